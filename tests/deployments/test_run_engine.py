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
    assert deployment.status == "draft"
    assert not StateLock.objects.filter(deployment=deployment).exists()
    assert engine_processes_in(str(Path(settings.SLIPWAY_WORKDIR) / f"run-{run.pk}-")) == []


def test_a_worker_killed_mid_apply_gives_an_interrupted_run_and_a_visible_lock(
    celery_worker, dev, ops, client, catalog, proto_env, tmp_path, monkeypatch, settings
):
    # This run goes to a worker of its own, listening on its own queue, so it can be killed.
    from deployments.tasks import execute_run

    monkeypatch.setattr(
        run_services, "run_enqueue", lambda run_id: execute_run.apply_async(args=[run_id], queue="doomed") and True
    )
    doomed = start_worker(
        tmp_path / "doomed.log",
        service_env(SLIPWAY_BASE_URL=settings.SLIPWAY_BASE_URL),
        concurrency=1,
        queues="doomed",
    )
    try:
        deployment = create(proto_env, dev, catalog, "crashy", sleep_seconds=120)
        run = deployment.runs.get()
        wait_until(
            lambda: run.log_lines.filter(text__contains="terraform_data.slow[0]: Creating").exists(),
            timeout=90,
            what="the slow step to start",
        )
        assert StateLock.objects.filter(deployment=deployment).exists()
        os.killpg(doomed.pid, signal.SIGKILL)  # the whole worker, as when its machine dies
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
    # The engine dies with its worker (a provisioner's own child may linger, as on any crashed host).
    wait_until(
        lambda: not engine_processes_in(str(Path(settings.SLIPWAY_WORKDIR) / f"run-{run.pk}-"), engine_only=True),
        what="the orphaned engine to die with its worker",
    )

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
