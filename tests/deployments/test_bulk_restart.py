"""A rollout survives its worker: kill the only worker mid-rollout, start another, and it finishes."""

import os
import signal
import sys
import time

import pytest
import requests

from deployments.models import BulkChange, BulkTarget, Deployment
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


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def test_a_rollout_finishes_after_its_worker_is_killed(ops, catalog, proto_env, tmp_path):
    port, web_port = free_port(), free_port()
    env = service_env(
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
        SLIPWAY_BASE_URL=f"http://127.0.0.1:{web_port}",
        SLIPWAY_REAPER_INTERVAL="1",
        SLIPWAY_BULK_STALE_SECONDS="3",
        CELERY_VISIBILITY_TIMEOUT="3600",  # the dead worker's message does not come back: only the kick can help
        SLIPWAY_VAR_DIR=str(tmp_path / "var"),
    )
    start_redis(port, tmp_path)
    procs, first = [], None
    try:
        procs.append(
            start_process(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"],
                env,
                tmp_path / "web.log",
            )
        )
        wait_for(lambda: _up(web_port), 30, "the web server")
        first = start_worker(tmp_path / "worker-1.log", env, concurrency=1)
        # Everything goes through this isolated server's API, so every message lands on its own broker.
        _, key = APIToken.issue(user=ops, name="restart")
        api = requests.Session()
        api.headers["Authorization"] = f"Token {key}"
        base = f"http://127.0.0.1:{web_port}/api/v1"
        for index in range(4):
            created = api.post(
                f"{base}/deployments/",
                timeout=30,
                json={
                    "environment": proto_env.pk,
                    "name": f"svc-{index}",
                    "bundle": "echo",
                    "params": {"message": "v1"},
                },
            )
            assert created.status_code == 201, created.text
        wait_for(lambda: Deployment.objects.filter(status="live").count() == 4, 90, "the first deploys")

        created = api.post(
            f"{base}/bulk-changes/",
            timeout=30,
            json={
                "title": "to v2",
                "query": "bundle:echo",
                "patch": [{"op": "set", "path": "/message", "value": "v2"}],
            },
        )
        assert created.status_code == 201, created.text
        change = BulkChange.objects.get(pk=created.json()["id"])
        wait_for(lambda: BulkChange.objects.get(pk=change.pk).status == BulkChange.Status.TESTED, 60, "the dry run")
        rollout = api.post(
            f"{base}/bulk-changes/{change.pk}/rollout/",
            timeout=30,
            json={"wave_size": 1, "pause_seconds": 4, "failure_threshold": 1},
        )
        assert rollout.status_code == 202, rollout.text
        # Kill the worker between two waves, while the rollout sleeps through its pause.
        wait_for(
            lambda: BulkChange.objects.get(pk=change.pk).targets.filter(rollout=BulkTarget.Rollout.SUCCEEDED).exists(),
            60,
            "the first wave to finish",
        )
        os.killpg(first.pid, signal.SIGKILL)  # the worker dies holding the rollout's next step
        first.wait()
        second = start_worker(tmp_path / "worker-2.log", env, concurrency=1)
        procs.append(second)
        procs.append(
            start_process(
                [sys.executable, "-m", "celery", "-A", "portal", "beat", "--schedule", str(tmp_path / "beat")],
                env,
                tmp_path / "beat.log",
            )
        )
        wait_for(
            lambda: BulkChange.objects.get(pk=change.pk).status == BulkChange.Status.COMPLETED,
            120,
            "the rollout to finish on the new worker",
        )
        change.refresh_from_db()
        assert change.waves_started == 4
        assert set(change.targets.values_list("rollout", flat=True)) == {BulkTarget.Rollout.SUCCEEDED}
        assert "4 succeeded, 0 failed" in change.message
    finally:
        for proc in [*procs, first]:
            if proc is not None:
                stop_process(proc)
        stop_redis(port)


def _up(port) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
    except requests.RequestException:
        return False
