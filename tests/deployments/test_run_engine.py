"""The run engine on real services: the engine uses Slipway as its state backend, runs queue in
order, plans are reviewed before risky applies, cancel and crashes leave nothing behind, and
secrets never reach the database in clear."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from deployments import services
from deployments.models import Run, StateLock, StateVersion
from deployments.runs import services as run_services
from deployments.tasks import reap_interrupted_runs
from portal.crypto import decrypt
from tests.conftest import service_env, start_worker, stop_process, wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SECRET = "sk-live-4f9c2b7e1d8a6053"


def create(env, dev, catalog, name, **params):
    return services.deployment_create(
        environment=env, name=name, bundle_version=catalog["workbench"], params=params, actor=dev
    )


def wait_until(predicate, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def engine_processes_in(workdir_prefix: str, *, engine_only: bool = False) -> list[int]:
    """PIDs of processes working in a run's workdir: engine, plugins, provisioners (or the engine alone)."""
    from deployments.runs.engine import engine_binary

    engine = os.path.realpath(engine_binary())
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if not os.readlink(entry / "cwd").startswith(workdir_prefix):
                    continue
                if engine_only and os.path.realpath(os.readlink(entry / "exe")) != engine:
                    continue
                pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_the_engine_reads_and_writes_state_through_slipway(celery_worker, dev, catalog, proto_env):
    deployment = create(proto_env, dev, catalog, "stateful", message="one")
    run = wait_for_run(deployment.runs.get())
    assert run.status == "succeeded", run.error
    assert run.worker.startswith(f"test-celery-{os.getpid()}@")  # the Celery node name, not just the host
    from deployments.models import Worker

    # and that worker says it is alive: its heartbeat writes the row again within one beat (the flush
    # that ends every transactional test empties the table, so it may be a beat away right now)
    deadline = time.monotonic() + 2 * settings.SLIPWAY_HEARTBEAT_SECONDS + 5
    while not Worker.objects.filter(name=run.worker).exists():
        assert time.monotonic() < deadline, f"no heartbeat from {run.worker}"
        time.sleep(0.2)

    versions = StateVersion.objects.filter(deployment=deployment).order_by("created_at")
    assert versions.exists() and all(v.created_by_run_id == run.pk for v in versions)
    latest = versions.last()
    state = json.loads(decrypt(bytes(latest.encrypted_state)))
    assert state["serial"] == latest.serial and state["lineage"] == latest.lineage
    assert {r["name"] for r in state["resources"]} == {"thing", "credential"}
    assert not StateLock.objects.exists()  # the engine unlocked when it finished

    run = wait_for_run(services.deployment_update(deployment=deployment, params={"message": "two"}, actor=dev))
    assert run.status == "succeeded" and run.plan_summary["change"] == 1 and run.plan_summary["add"] == 0
    newest = StateVersion.objects.filter(deployment=deployment).order_by("created_at").last()
    assert newest.lineage == latest.lineage and newest.serial > latest.serial

    run = wait_for_run(services.deployment_destroy(deployment=deployment, actor=dev))
    assert run.status == "succeeded", run.error
    final = json.loads(
        decrypt(bytes(StateVersion.objects.filter(deployment=deployment).order_by("created_at").last().encrypted_state))
    )
    assert final["resources"] == []
    deployment.refresh_from_db()
    assert deployment.status == "destroyed"


def test_two_applies_on_one_deployment_both_succeed_in_order(celery_worker, dev, catalog, proto_env):
    deployment = create(proto_env, dev, catalog, "busy", message="first")
    second = services.deployment_update(deployment=deployment, params={"message": "second"}, actor=dev)
    first = deployment.runs.order_by("created_at").first()
    first, second = wait_for_run(first), wait_for_run(second)
    assert (first.status, second.status) == ("succeeded", "succeeded"), (first.error, second.error)
    assert second.started_at >= first.finished_at
    assert "lock" not in (first.error + second.error).lower()
    deployment.refresh_from_db()
    assert deployment.outputs["name"] == "checkout-proto-busy"


def test_a_replace_waits_for_review_in_plain_words_then_applies(celery_worker, dev_client, dev, catalog, proto_env):
    deployment = create(proto_env, dev, catalog, "db", generation=1)
    wait_for_run(deployment.runs.get())
    run = services.deployment_update(deployment=deployment, params={"generation": 3}, actor=dev)
    wait_until(lambda: Run.objects.get(pk=run.pk).status in ("planned", "failed"), what="the plan")
    run.refresh_from_db()
    assert run.status == "planned", run.error
    assert run.plan_summary["replace"] == 1
    (resource,) = [r for r in run.plan_summary["resources"] if r["action"] == "replace"]
    assert resource["address"] == "terraform_data.thing"
    assert "because triggers_replace changed" in resource["words"] and "data it holds is lost" in resource["words"]
    assert run.plan_summary["outputs"]["size_class"] == "large"  # a value the module derives

    page = dev_client.get(run.get_absolute_url()).content.decode()
    assert "Review the plan" in page and "1 to replace" in page
    assert "This recreates terraform_data.thing" in page and "Apply this plan" in page
    detail = dev_client.get(deployment.get_absolute_url()).content.decode()
    assert "Review the plan" in detail

    response = dev_client.post(reverse("deployments:run-apply", args=[run.pk]))
    assert response.status_code == 302
    run = wait_for_run(run)
    assert run.status == "succeeded", run.error
    assert run.apply_confirmed_by == "dev"
    deployment.refresh_from_db()
    assert deployment.outputs["size_class"] == "large" and deployment.status == "live"


def test_cancel_mid_apply_leaves_no_engine_process_and_no_lock(celery_worker, dev, catalog, proto_env):
    deployment = create(proto_env, dev, catalog, "slowpoke", sleep_seconds=60)
    run = deployment.runs.get()
    wait_until(
        lambda: run.log_lines.filter(text__contains="terraform_data.slow[0]: Creating").exists(),
        what="the slow step to start",
    )
    run_services.run_cancel(run=run, actor=dev)
    run = wait_for_run(run, timeout=60)
    assert run.status == "cancelled"
    deployment.refresh_from_db()
    # The first apply created resources before the cancel: the deployment does not pretend to be a draft.
    assert deployment.status == "failed"
    assert "cancelled after it created resources" in deployment.history.first().history_change_reason
    assert not StateLock.objects.filter(deployment=deployment).exists()
    assert engine_processes_in(str(Path(settings.SLIPWAY_WORKDIR) / f"run-{run.pk}-")) == []


def _doomed_worker(monkeypatch, tmp_path, settings):
    """A worker of its own, on its own queue, that the test can kill; runs created meanwhile go to it."""
    from deployments.tasks import execute_run

    monkeypatch.setattr(
        run_services, "run_enqueue", lambda run_id: execute_run.apply_async(args=[run_id], queue="doomed") and True
    )
    return start_worker(
        tmp_path / "doomed.log",
        service_env(SLIPWAY_BASE_URL=settings.SLIPWAY_BASE_URL),
        concurrency=1,
        queues="doomed",
    )


def _state(deployment) -> dict:
    latest = StateVersion.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()
    return json.loads(decrypt(bytes(latest.encrypted_state))) if latest else {}


def test_kill_test_a_worker_killed_mid_apply_loses_no_resource(
    celery_worker, dev, ops, client, catalog, proto_env, tmp_path, monkeypatch, settings
):
    """SIGKILL of the whole worker (main process and pool) while the cloud is creating a slow resource:
    the engine is interrupted instead of killed, saves what it created and releases its lock; a re-apply
    then creates nothing new."""
    from portal.sandbox.models import Resource

    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 1.0  # the database takes 20 s to create
    doomed = _doomed_worker(monkeypatch, tmp_path, settings)
    try:
        deployment = services.deployment_create(
            environment=proto_env, name="killed", bundle_version=catalog["slowcloud"], params={}, actor=dev
        )
        run = deployment.runs.get()
        wait_until(
            lambda: run.log_lines.filter(text__contains="sandbox_database.second: Creating").exists(),
            timeout=90,
            what="the slow database to start",
        )
        wait_until(lambda: Resource.objects.filter(kind="database").exists(), what="the cloud to start the database")
        assert StateLock.objects.filter(deployment=deployment).exists()
        os.killpg(doomed.pid, signal.SIGKILL)  # the whole worker, as when its machine dies
        doomed.wait()
    finally:
        stop_process(doomed)
    monkeypatch.undo()

    # Beat notices at once (nobody will heartbeat again); the engine may still be saving its state.
    settings.SLIPWAY_RUN_STALE_SECONDS = 0
    assert reap_interrupted_runs() == 1
    run.refresh_from_db()
    assert run.status == "interrupted" and "stopped responding" in run.error

    # The engine was told to stop, not killed: it records what the cloud made and unlocks.
    wait_until(lambda: not StateLock.objects.filter(deployment=deployment).exists(), what="the engine to unlock")
    in_cloud = {r.id for r in Resource.objects.all()}
    assert len(in_cloud) == 2
    stored = {
        instance["attributes"]["id"]
        for resource in _state(deployment).get("resources", [])
        for instance in resource["instances"]
    }
    assert stored == in_cloud, "every resource the cloud created is in the stored state"
    run.refresh_from_db()
    assert run.state_credential == ""  # void once its engine let go of the lock

    # A re-apply (on a live worker) finds everything and creates nothing.
    again = wait_for_run(services.deployment_reapply(deployment=deployment, actor=dev), timeout=120)
    assert again.status == "succeeded", again.error
    assert again.plan_summary["add"] == 0 and again.plan_summary["replace"] == 0
    assert {r.id for r in Resource.objects.all()} == in_cloud


def test_a_worker_killed_mid_provisioner_leaves_no_process_no_inputs_and_its_directory_goes_at_the_next_start(
    celery_worker, dev, catalog, proto_env, tmp_path, monkeypatch, settings
):
    doomed = _doomed_worker(monkeypatch, tmp_path, settings)
    try:
        deployment = create(proto_env, dev, catalog, "sleepy", sleep_seconds=120, api_key=SECRET)
        run = deployment.runs.get()
        wait_until(
            lambda: run.log_lines.filter(text__contains="terraform_data.slow[0]: Creating").exists(),
            timeout=90,
            what="the slow step to start",
        )
        workdir_prefix = str(Path(settings.SLIPWAY_WORKDIR) / f"run-{run.pk}-")
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
    finally:
        stop_process(doomed)
    monkeypatch.undo()

    # The engine stops the provisioner, saves state and unlocks; its supervisor ends what is left of the group.
    wait_until(lambda: not engine_processes_in(workdir_prefix), what="the engine and the provisioner's sleep to end")
    wait_until(lambda: not StateLock.objects.filter(deployment=deployment).exists(), what="the engine to unlock")
    assert {r["name"] for r in _state(deployment)["resources"]} >= {"thing", "credential"}
    (workdir,) = Path(settings.SLIPWAY_WORKDIR).glob(f"run-{run.pk}-*")
    assert not (workdir / "terraform.tfvars.json").exists() and not (workdir / "plan.bin").exists()
    leftovers = [f for f in workdir.rglob("*") if f.is_file() and SECRET.encode() in f.read_bytes()]
    assert leftovers == [], "no plaintext secret stays on disk"

    # The next worker to start on this host removes the directory.
    env = service_env(SLIPWAY_BASE_URL=settings.SLIPWAY_BASE_URL)
    another = start_worker(tmp_path / "another.log", env, concurrency=1, queues="spare")
    try:
        wait_until(lambda: not workdir.exists(), what="the next worker to remove the dead run's directory")
    finally:
        stop_process(another)


def test_a_machine_lost_mid_apply_leaves_an_interrupted_run_and_a_visible_lock(
    celery_worker, dev, ops, client, catalog, proto_env, tmp_path, monkeypatch, settings
):
    """Worker, engine and all die at once (the machine is lost): nothing could save or unlock, so the run is
    interrupted, its lock is shown, later runs wait for an unlock, and ops force-unlock (audited)."""
    doomed = _doomed_worker(monkeypatch, tmp_path, settings)
    try:
        deployment = create(proto_env, dev, catalog, "crashy", sleep_seconds=120)
        run = deployment.runs.get()
        wait_until(
            lambda: run.log_lines.filter(text__contains="terraform_data.slow[0]: Creating").exists(),
            timeout=90,
            what="the slow step to start",
        )
        assert StateLock.objects.filter(deployment=deployment).exists()
        workdir_prefix = str(Path(settings.SLIPWAY_WORKDIR) / f"run-{run.pk}-")
        for pid in engine_processes_in(workdir_prefix):  # supervisor, engine, plugins, the provisioner's sleep
            os.kill(pid, signal.SIGKILL)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
    finally:
        stop_process(doomed)
    monkeypatch.undo()

    settings.SLIPWAY_RUN_STALE_SECONDS = 3
    time.sleep(4)
    assert reap_interrupted_runs() == 1
    run.refresh_from_db()
    assert run.status == "interrupted"
    assert "stopped responding" in run.error and "state lock" in run.error
    assert not engine_processes_in(workdir_prefix)

    client.force_login(ops)
    page = client.get(deployment.get_absolute_url()).content.decode()
    assert "State locked" in page and f"run #{run.pk}" in page and "Force unlock" in page

    # New runs wait while the dead run's lock is held.
    waiting = services.deployment_update(deployment=deployment, params={"sleep_seconds": 0}, actor=dev)
    time.sleep(2)
    waiting.refresh_from_db()
    assert waiting.status == "queued"

    response = client.post(reverse("deployments:force-unlock", args=[deployment.pk]), {"reason": "checked: half-built"})
    assert response.status_code == 302
    assert not StateLock.objects.filter(deployment=deployment).exists()
    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(event_type="state.lock_forced", actor_name="ops").exists()
    waiting = wait_for_run(waiting)
    assert waiting.status == "succeeded", waiting.error


def test_wrong_or_expired_credentials_get_401_and_write_nothing(celery_worker, client, dev, catalog, proto_env):
    import base64

    deployment = create(proto_env, dev, catalog, "guarded")
    run = wait_for_run(deployment.runs.get())
    count = StateVersion.objects.count()
    url = reverse("state", args=[deployment.pk])

    def basic(user, password):
        return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    assert client.get(url).status_code == 401
    assert client.post(url, "{}", content_type="application/json", **basic(f"run-{run.pk}", "guess")).status_code == 401
    # The run has ended: whatever its password was, it no longer works.
    assert Run.objects.get(pk=run.pk).state_credential == ""
    assert client.generic("LOCK", url + "lock/", "{}", **basic(f"run-{run.pk}", "")).status_code == 401
    assert StateVersion.objects.count() == count


def test_lock_and_unlock_follow_the_http_backend_protocol(client, dev, catalog, proto_env):
    import base64

    from deployments.runs.state_backend import credential_hash

    deployment = create(proto_env, dev, catalog, "locky")
    run = deployment.runs.get()
    run.transition("running", state_credential=credential_hash("pw"))
    auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"run-{run.pk}:pw".encode()).decode()}
    lock_url = reverse("state-lock", args=[deployment.pk])

    assert client.generic("LOCK", lock_url, json.dumps({"ID": "a", "Who": "me"}), **auth).status_code == 200
    held = client.generic("LOCK", lock_url, json.dumps({"ID": "b"}), **auth)
    assert held.status_code == 423 and held.json()["ID"] == "a"
    conflict = client.post(
        reverse("state", args=[deployment.pk]) + "?ID=b", "{}", content_type="application/json", **auth
    )
    assert conflict.status_code == 409
    assert client.generic("UNLOCK", lock_url, json.dumps({"ID": "b"}), **auth).status_code == 409
    assert client.generic("UNLOCK", lock_url, "", **auth).status_code == 200  # force-unlock sends no body
    assert not StateLock.objects.exists()


def test_a_known_secret_never_reaches_the_database_in_clear(celery_worker, client, dev, catalog, proto_env):
    deployment = create(proto_env, dev, catalog, "secretive", api_key=SECRET)
    run = wait_for_run(deployment.runs.get())
    assert run.status == "succeeded", run.error
    run = wait_for_run(
        services.deployment_update(
            deployment=deployment, params={**deployment.full_params(), "message": "rotated"}, actor=dev
        )
    )
    assert run.status == "succeeded", run.error
    deployment.refresh_from_db()
    assert deployment.full_params()["api_key"] == SECRET
    assert deployment.params["api_key"].startswith("(sensitive:")

    client.force_login(dev)
    revealed = client.post(reverse("deployments:reveal", args=[deployment.pk, "api_key_echo"]))
    assert SECRET in revealed.content.decode()
    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(event_type="secret.revealed", actor_name="dev").exists()

    db = settings.DATABASES["default"]
    dump = subprocess.run(
        ["pg_dump", "--data-only", "-h", db["HOST"] or "127.0.0.1", "-U", db["USER"], db["NAME"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "secretive" in dump  # the dump is of the right database
    assert SECRET not in dump
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM deployments_runlogline WHERE text LIKE %s", [f"%{SECRET}%"])
        assert cursor.fetchone()[0] == 0
