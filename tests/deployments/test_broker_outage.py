"""With the broker down a developer's submit is still accepted; the run goes once the broker is back."""

import shutil
import sys
import time

import pytest
import requests

from deployments.models import Deployment
from portal.models import APIToken
from tests.conftest import (
    free_port,
    service_env,
    start_process,
    start_redis,
    start_worker,
    stop_process,
    stop_redis,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_a_submit_is_accepted_while_the_broker_is_down_and_runs_when_it_returns(dev, catalog, proto_env, tmp_path):
    port, web_port = free_port(), free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    base = f"http://127.0.0.1:{web_port}"
    env = service_env(
        CELERY_BROKER_URL=broker,
        SLIPWAY_BASE_URL=base,
        SLIPWAY_REAPER_INTERVAL="1",
        SLIPWAY_REQUEUE_AFTER_SECONDS="2",
        SLIPWAY_VAR_DIR=str(tmp_path / "var"),
    )
    start_redis(port, tmp_path)
    procs = []
    try:
        procs.append(
            start_process(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"],
                env,
                tmp_path / "web.log",
            )
        )
        procs.append(start_worker(tmp_path / "worker.log", env, concurrency=1))
        procs.append(
            start_process(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "beat",
                    "--loglevel=INFO",
                    "--schedule",
                    str(tmp_path / "beat-schedule"),
                ],
                env,
                tmp_path / "beat.log",
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        _, key = APIToken.issue(user=dev, name="outage")
        api = requests.Session()
        api.headers["Authorization"] = f"Token {key}"

        stop_redis(port)
        started = time.monotonic()
        response = api.post(
            f"{base}/api/v1/deployments/",
            json={"environment": proto_env.pk, "name": "during-outage", "bundle": "echo", "params": {"message": "hi"}},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        assert time.monotonic() - started < 15  # accepted promptly, not hung on the broker
        deployment = Deployment.objects.get(name="during-outage")
        run = deployment.runs.get()
        time.sleep(2)
        run.refresh_from_db()
        assert run.status == "queued" and run.enqueued_at is None

        start_redis(port, tmp_path)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status in ("succeeded", "failed"):
                break
            time.sleep(0.5)
        assert run.status == "succeeded", (run.status, run.error, (tmp_path / "worker.log").read_text()[-2000:])
        deployment.refresh_from_db()
        assert deployment.status == "live"
    finally:
        for proc in procs:
            stop_process(proc)
        stop_redis(port)
