"""Drift detection against the sandbox cloud, with a real worker and the real engine: someone changes a
database behind Slipway's back, a scheduled check finds it, revert puts the cloud back, accept makes the
observed value the configuration, and a database deleted outside is created again."""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from audit.models import AuditEvent
from deployments import services
from deployments.drift import dispatch
from deployments.drift.models import DriftCheck
from deployments.drift.services import drift_accept, drift_check_execute, drift_check_request, drift_revert
from deployments.models import Deployment, Run, StateLock, StateResource
from portal.crypto import decrypt
from portal.sandbox import services as sandbox
from portal.sandbox.models import Resource
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_for_check(check: DriftCheck, timeout: float = 90) -> DriftCheck:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check.refresh_from_db()
        if check.is_finished:
            return check
        time.sleep(0.2)
    pytest.fail(f"drift check #{check.pk} still {check.status} after {timeout}s")


def latest_check(deployment) -> DriftCheck:
    return deployment.drift_checks.order_by("-created_at", "-id").first()


@pytest.fixture
def database(celery_worker, dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["postgres"],
        params={"size": "small", "storage_gb": 20},
        actor=dev,
    )
    run = wait_for_run(deployment.runs.get())
    assert run.status == "succeeded", run.error
    deployment.refresh_from_db()
    return deployment


def cloud(deployment) -> Resource:
    return Resource.objects.get(pk=deployment.outputs["database_id"])


def test_a_scheduled_check_finds_a_change_made_in_the_sandbox_revert_undoes_it_and_accept_keeps_one(
    database, dev, settings
):
    # The newest postgres (2.1.0 and later) says where each param is read from in the cloud.
    assert catalog_version(database) >= "2.1.0" and "x-observed-from" in str(database.bundle_version.params_schema)
    settings.SLIPWAY_DRIFT_INTERVALS = {"prototype": 3600, "staging": 0, "production": 0}
    sandbox.resource_update(resource_id=cloud(database).pk, attributes={"storage_gb": 50}, actor="console: ops")

    assert dispatch.drift_schedule() == 1
    assert dispatch.drift_schedule() == 0  # one is already queued: nothing twice
    check = wait_for_check(latest_check(database))
    assert check.status == "drifted", check.error
    assert check.channel == "schedule"
    (resource,) = check.resources
    assert resource["address"] == "sandbox_database.main" and resource["action"] == "changed"
    assert {"path": "storage_gb", "before": 20, "after": 50} in resource["changes"]
    assert [c["path"] for c in resource["changes"]] == ["storage_gb"]
    database.refresh_from_db()
    assert database.status == "drifted"
    assert AuditEvent.objects.filter(event_type="drift.detected", target_id=str(database.pk)).count() == 1

    # What is really running: every attribute as read, the password masked, and never stored in clear.
    # What the refresh read: the server (and the alarms the bundle wires to it, from postgres 2.5.0).
    (live,) = [r for r in check.observed if r["address"] == "sandbox_database.main"]
    assert live["attributes"]["storage_gb"] == 50 and live["id"] == cloud(database).pk
    assert live["attributes"]["password"] == "(sensitive)"
    password = json.loads(decrypt(database.sensitive_outputs))["password"]
    stored = json.dumps([check.resources, check.observed, check.log])
    assert password not in stored
    # The estate's resource index follows the cloud, so the query finds the drifted value.
    assert StateResource.objects.get(deployment=database, type="sandbox_database").attributes["storage_gb"] == 50

    # The same drift found again is not news: no second event.
    again = wait_for_check(drift_check_request(deployment=database, actor=dev, channel="api"))
    assert again.status == "drifted"
    assert AuditEvent.objects.filter(event_type="drift.detected", target_id=str(database.pk)).count() == 1

    # Revert: the configuration applied again, through the normal path; the cloud is back to 20.
    run = wait_for_run(drift_revert(check=again, actor=dev, reason="nobody asked for 50"))
    assert run.status == "succeeded", run.error
    assert run.approval_basis.startswith("approved by policy") and "revert drift" in run.reason
    assert cloud(database).attributes["storage_gb"] == 20
    again.refresh_from_db()
    assert (again.resolution, again.resolved_by_name, again.resolution_run_id) == ("reverted", "dev", run.pk)
    follow_up = wait_for_check(latest_check(database))  # checked again after the revert
    assert follow_up.channel == "system" and follow_up.status == "in_sync", follow_up.error
    database.refresh_from_db()
    assert database.status == "live"
    assert AuditEvent.objects.filter(event_type="drift.reverted", target_id=str(database.pk)).exists()

    # A second drift is accepted: the observed value becomes the params, through policy.
    sandbox.resource_update(resource_id=cloud(database).pk, attributes={"storage_gb": 60}, actor="console: ops")
    check = wait_for_check(drift_check_request(deployment=database, actor=dev))
    assert check.status == "drifted"
    run = wait_for_run(drift_accept(check=check, actor=dev, reason="the data grew"))
    assert run.status == "succeeded", run.error
    assert run.plan_summary["total"] == 0  # the cloud already holds it
    database.refresh_from_db()
    assert database.params["storage_gb"] == 60 and database.version == 2
    row = database.history.order_by("-history_date").filter(params__storage_gb=60).last()
    assert row.history_basis.startswith(f"accepted drift #{check.pk}; approved by policy")
    assert "accept drift" in row.history_change_reason
    accepted = AuditEvent.objects.get(event_type="drift.accepted", target_id=str(database.pk))
    assert accepted.data["params"] == {"/storage_gb": [20, 60]}
    assert wait_for_check(latest_check(database)).status == "in_sync"
    assert cloud(database).attributes["storage_gb"] == 60


def catalog_version(deployment) -> str:
    return Deployment.objects.get(pk=deployment.pk).bundle_version.version


def test_a_database_deleted_outside_slipway_is_drift_and_revert_creates_it_again(database, dev):
    gone = cloud(database).pk
    sandbox.resource_delete(resource_id=gone, actor="console: ops")
    check = wait_for_check(drift_check_request(deployment=database, actor=dev))
    assert check.status == "drifted", check.error
    (resource,) = check.resources
    assert resource["action"] == "deleted" and "deleted outside Slipway" in resource["words"]
    assert [r for r in check.observed if r["type"] == "sandbox_database"] == []
    with pytest.raises(services.ServiceError, match="only be reverted"):
        drift_accept(check=check, actor=dev)

    run = wait_for_run(drift_revert(check=check, actor=dev))
    assert run.status == "succeeded", run.error
    assert run.plan_summary["add"] == 1
    database.refresh_from_db()
    assert database.outputs["database_id"] != gone and cloud(database).status == "available"
    assert wait_for_check(latest_check(database)).status == "in_sync"


def test_a_check_reads_past_a_held_state_lock_and_skips_while_a_run_changes_the_deployment(database, dev):
    # A lock left behind (a worker died mid-apply) blocks every run; a check takes no lock, so it still reads.
    StateLock.objects.create(deployment=database, lock_id="left-behind", info={"Who": "a dead worker"})
    check = DriftCheck.objects.create(deployment=database, channel="ui")
    drift_check_execute(check.pk)
    check.refresh_from_db()
    assert check.status == "in_sync", check.error
    assert StateLock.objects.get(deployment=database).lock_id == "left-behind"
    assert check.state_serial == database.state_versions.order_by("-created_at", "-id").first().serial

    # A run on its way (queued here, never sent) changes the state: the check does not run meanwhile.
    run = Run.objects.create(deployment=database, action="apply", bundle_version=database.bundle_version)
    check = DriftCheck.objects.create(deployment=database, channel="ui")
    drift_check_execute(check.pk)
    check.refresh_from_db()
    assert check.status == "skipped" and f"Run #{run.pk}" in check.error
    assert drift_check_execute(check.pk) is None  # a finished check is never claimed again


def test_the_api_the_cli_and_the_estate_query_show_drift(database, dev, live_server, tmp_path):
    import os
    import subprocess
    import sys

    from django.test import Client

    from deployments.estate.query import estate_query
    from portal.models import APIToken
    from tests.conftest import ROOT

    api = Client()
    api.force_login(dev)
    url = f"/api/v1/deployments/{database.pk}/drift/"
    assert api.get(url).json() == {"deployment_status": "live", "latest": None, "pending": None}

    sandbox.resource_update(resource_id=cloud(database).pk, attributes={"size": "medium"}, actor="console: ops")
    _, key = APIToken.issue(user=dev, name="drift")
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(SLIPWAY_URL=live_server.url, SLIPWAY_TOKEN=key, XDG_CONFIG_HOME=str(tmp_path / "config"))
    ref = "checkout/proto/orders-db"
    cli = subprocess.run(
        [sys.executable, "-m", "portal.cli", "deployments", "drift", ref, "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert cli.returncode == 1, cli.stderr  # drifted, like diff
    assert "orders-db: DRIFTED" in cli.stdout
    assert 'size: "small" -> "medium"' in cli.stdout

    body = api.get(url).json()
    assert body["deployment_status"] == "drifted" and body["pending"] is None
    check = body["latest"]
    assert check["resources"][0]["changes"] == [{"path": "size", "before": "small", "after": "medium"}]
    listed = api.get("/api/v1/drift-checks/", {"deployment": str(database.pk), "status": "drifted"}).json()
    assert [c["id"] for c in listed["results"]] == [check["id"]]

    def found(query):
        return [d.pk for d in estate_query(query).filter(Deployment.objects.visible_to(dev))]

    for query in (
        "status:drifted",
        "drift.attribute:size",
        "drift.attribute:sandbox_database.size",
        "drift.attribute~siz",
    ):
        assert found(query) == [database.pk], query
    assert found("drift.attribute:storage_gb") == [] and found("-drift.attribute:size") == []
    assert found("resource.sandbox_database.size:medium") == [database.pk]

    # Accept through the API: the observed size becomes the configuration (the prototype policy allows medium).
    accepted = api.post(f"/api/v1/drift-checks/{check['id']}/accept/", {"reason": "we needed it"}, "application/json")
    assert accepted.status_code == 202, accepted.content
    assert accepted.json()["approval_basis"].startswith(f"accepted drift #{check['id']}")
    assert wait_for_run(Run.objects.get(pk=accepted.json()["id"])).status == "succeeded"
    again = api.post(f"/api/v1/drift-checks/{check['id']}/accept/", {}, "application/json")
    assert again.status_code == 400 and "already accepted" in again.json()["message"]

    latest = wait_for_check(latest_check(database))
    assert latest.status == "in_sync"
    cli = subprocess.run(
        [sys.executable, "-m", "portal.cli", "deployments", "drift", ref],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0 and "orders-db: in sync" in cli.stdout, cli.stdout + cli.stderr
    assert found("drift.attribute:size") == [] and found("-drift.attribute:size") == [database.pk]


@pytest.mark.skipif(os.geteuid() != 0, reason="switching the engine's user needs a root worker")
def test_a_root_worker_checks_drift_as_the_engines_own_user(celery_worker, dev, catalog, proto_env, settings):
    """The check's folder is handed to SLIPWAY_ENGINE_USER before each command, as a run's is (the engine
    could not even enter it). A module of built-in resources: the sandbox provider runs with the worker's
    Python, which on this machine lives where no other user may read."""
    deployment = services.deployment_create(
        environment=proto_env, name="echoed", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )
    assert wait_for_run(deployment.runs.get()).status == "succeeded"
    base = Path(tempfile.mkdtemp(prefix="slipway-drift-user-"))
    base.chmod(0o711)  # as a run's: the engine's user passes through to its folder, and lists nothing
    try:
        settings.SLIPWAY_WORKDIR = base
        settings.SLIPWAY_ENGINE_USER = "nobody"
        check = DriftCheck.objects.create(deployment=deployment, channel="ui")
        drift_check_execute(check.pk)
        check.refresh_from_db()
        assert check.status == "in_sync", check.error
        assert "$ terraform init" in check.log or "$ tofu init" in check.log
    finally:
        shutil.rmtree(base, ignore_errors=True)
