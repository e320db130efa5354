"""`make run`'s `manage.py serve`: web, worker and beat start together, and one Ctrl-C stops all three cleanly
(exit 0, no process left behind), on the embedded configuration."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, stop_process
from tests.portal.test_embedded import free_port

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    """Every process whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_web_worker_and_beat_and_exits_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(SLIPWAY_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="portal.settings", DEBUG="1")
    port = free_port()
    env["SLIPWAY_BASE_URL"] = f"http://127.0.0.1:{port}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    log = tmp_path / "serve.log"
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--address", f"127.0.0.1:{port}", "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),  # noqa: SIM115 (held open while the process runs)
        stderr=subprocess.STDOUT,
        start_new_session=True,  # as a terminal's foreground group: the signal below reaches serve alone
    )
    try:
        deadline = time.monotonic() + 60
        up = False
        while time.monotonic() < deadline and not (up and "ready." in log.read_text()):
            with contextlib.suppress(requests.ConnectionError):
                up = up or requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code in (200, 503)
            time.sleep(0.3)
        assert up and "ready." in log.read_text(), log.read_text()[-3000:]
        kids = _children(serve.pid)
        assert len(kids) == 3, kids  # web, worker, beat

        serve.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert serve.wait(timeout=40) == 0, log.read_text()[-3000:]
        assert not any(_group_alive(pid) for pid in kids), "a child (or its pool) outlived serve"
        text = log.read_text()
        assert "Stopped." in text
        assert "Segmentation fault" not in text and "Traceback" not in text
    finally:
        stop_process(serve, signal.SIGKILL)
