"""Runs whose worker died are noticed without any worker (beat alone, or the web process), the overview
says plainly when no worker is alive, and a queued run says what it really waits for."""

import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from deployments import services
from deployments.models import Run, StateLock, Worker
from deployments.runs import services as run_services
from deployments.runs import tasks
from tests.conftest import service_env, start_process, stop_process


@pytest.fixture
def deployment(dev, catalog, proto_env, monkeypatch):
    # The run must stay where these tests put it: the session's worker (started by an earlier test) would
    # otherwise take it from the broker first.
    monkeypatch.setattr(tasks.execute_run, "apply_async", lambda *args, **kwargs: None)
    return services.deployment_create(
        environment=proto_env, name="cache", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )


def dead_run(deployment, *, lock: bool = False) -> Run:
    """The deployment's run as a worker that died mid-apply leaves it: applying, heartbeats long stopped."""
    run = deployment.runs.get()
    assert run.transition("running", worker="gone@host") and run.transition("applying")
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    if lock:
        StateLock.objects.create(deployment=deployment, lock_id="lock-1", info={"ID": "lock-1"}, run=run)
    return run


def no_worker_alive() -> None:
    """Forget the session's worker (started by an earlier test, its heartbeat commits a row) for the rest of
    this test: the table is emptied and locked against writers in the test's transaction, so a heartbeat
    waits for the rollback instead of coming back meanwhile."""
    Worker.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {Worker._meta.db_table} IN EXCLUSIVE MODE")


@pytest.mark.django_db
def test_the_web_process_marks_a_dead_run_interrupted_with_no_worker_alive(dev_client, deployment, monkeypatch):
    run = dead_run(deployment)
    monkeypatch.setattr(run_services, "_last_reap", 0.0)
    page = dev_client.get(deployment.get_absolute_url()).content.decode()
    run.refresh_from_db()
    assert run.status == "interrupted" and "stopped responding" in run.error
    assert "interrupted" in page.lower()
    deployment.refresh_from_db()
    assert deployment.status == "failed"


@pytest.mark.django_db
def test_the_overview_says_plainly_when_no_worker_is_alive(dev_client, settings):
    no_worker_alive()
    page = dev_client.get(reverse("home")).content.decode()
    assert "No worker is running" in page and "none has started yet" in page

    Worker.objects.create(name="celery@old", seen_at=timezone.now() - timedelta(minutes=10))
    page = dev_client.get(reverse("home")).content.decode()
    assert "No worker is running" in page and "celery@old" in page

    Worker.objects.create(name="celery@alive", seen_at=timezone.now())
    page = dev_client.get(reverse("home")).content.decode()
    assert "No worker is running" not in page


@pytest.mark.django_db
def test_a_run_queued_behind_a_stale_lock_says_it_waits_for_an_unlock(dev, dev_client, deployment, monkeypatch):
    monkeypatch.setattr(run_services, "_last_reap", 0.0)
    dead = dead_run(deployment, lock=True)
    Worker.objects.create(name="celery@alive", seen_at=timezone.now())
    waiting = services.deployment_update(deployment=deployment, params={"message": "again"}, actor=dev)
    assert waiting.status == "queued"
    page = dev_client.get(waiting.get_absolute_url()).content.decode()
    dead.refresh_from_db()
    assert dead.status == "interrupted"
    assert "Waiting for an unlock" in page and f"run #{dead.pk}" in page
    assert "Waiting for a worker" not in page
    assert "Waiting for an unlock" in dev_client.get(deployment.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_a_queued_run_with_no_worker_alive_says_so(dev_client, deployment):
    no_worker_alive()
    page = dev_client.get(deployment.runs.get().get_absolute_url()).content.decode()
    assert "Waiting for a worker: none is running" in page


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_beat_alone_marks_a_dead_run_interrupted(deployment, tmp_path):
    run = dead_run(deployment, lock=True)
    beat = start_process(
        [sys.executable, "-m", "celery", "-A", "portal", "beat", "-s", str(tmp_path / "schedule"), "--loglevel=INFO"],
        service_env(SLIPWAY_REAPER_INTERVAL="1", SLIPWAY_RUN_STALE_SECONDS="5"),
        tmp_path / "beat.log",
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status == "interrupted":
                break
            time.sleep(0.5)
    finally:
        stop_process(beat)
    assert run.status == "interrupted", (tmp_path / "beat.log").read_text()[-3000:]
    assert "state lock lock-1" in run.error
