"""Work directories left by runs whose worker died: removed when a worker starts, unless an engine still
works there, and never before the state the engine could not send is stored."""

import fcntl
import json
import os
import time

import pytest

from deployments import services
from deployments.models import StateVersion
from deployments.runs import workdirs
from deployments.runs.tasks import worker_started
from portal.crypto import decrypt

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="cache", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )
    return deployment.runs.get()


def test_a_worker_start_removes_dead_runs_directories_and_keeps_live_ones(run, settings, tmp_path, monkeypatch):
    base = tmp_path / "work"
    base.mkdir()
    settings.SLIPWAY_WORKDIR = base
    no_thread = type("NoThread", (), {"start": lambda self: None})
    monkeypatch.setattr("deployments.runs.tasks.threading.Thread", lambda **kwargs: no_thread())

    dead = base / f"run-{run.pk}-dead"
    dead.mkdir()
    os.close(workdirs.claim(dead, run))  # its worker died: nobody holds the lock any more
    (dead / "terraform.tfvars.json").write_text('{"password": "hunter22"}')
    state = {"version": 4, "serial": 3, "lineage": "l-1", "resources": [{"type": "sandbox_database"}]}
    (dead / "errored.tfstate").write_text(json.dumps(state))

    live = base / f"run-{run.pk}-live"
    live.mkdir()
    held = workdirs.claim(live, run)  # a run (or an orphaned engine's supervisor) still works here

    fresh = base / "run-99-fresh"  # a worker is just setting it up: no lock file yet
    fresh.mkdir()
    stale = base / "run-98-stale"  # left before claim() wrote a lock, long ago
    stale.mkdir()
    old = time.time() - 3600
    os.utime(stale, (old, old))

    try:
        worker_started(sender=None)
        assert not dead.exists() and not stale.exists()
        assert live.exists() and fresh.exists()
    finally:
        os.close(held)

    version = StateVersion.objects.get(deployment_id=run.deployment_id)
    assert json.loads(decrypt(bytes(version.encrypted_state))) == state
    assert version.created_by_run_id == run.pk

    worker_started(sender=None)  # the lock is free now
    assert not live.exists()


def test_a_lock_held_by_another_process_keeps_the_directory(run, tmp_path):
    workdir = tmp_path / f"run-{run.pk}-x"
    workdir.mkdir()
    fd = workdirs.claim(workdir, run)
    pid = os.fork()
    if pid == 0:  # the child holds the inherited lock, as the engine's supervisor does
        time.sleep(5)
        os._exit(0)
    os.close(fd)
    try:
        assert workdirs.clean(tmp_path) == []
        assert workdir.exists()
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    check = os.open(workdir / ".slipway" / "lock", os.O_RDWR)
    fcntl.flock(check, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once that process is gone
    os.close(check)
    assert workdirs.clean(tmp_path) == [workdir]


def test_a_worker_start_removes_a_dead_drift_checks_folder_with_the_state_it_decrypted(tmp_path):
    dead = tmp_path / "drift-7-dead"
    dead.mkdir()
    os.close(workdirs.hold(dead))  # its worker died mid-check
    (dead / "terraform.tfstate").write_text('{"outputs": {"password": {"value": "hunter22"}}}')
    live = tmp_path / "drift-8-live"
    live.mkdir()
    held = workdirs.hold(live)  # a check (or the supervisor of its engine) still works here
    try:
        assert workdirs.clean(tmp_path) == [dead]
        assert not dead.exists() and live.exists()
    finally:
        os.close(held)
    assert workdirs.clean(tmp_path) == [live]
