"""Issue 17's alarm acceptance, with PostgreSQL, Redis, a real worker, the engine and the sandbox cloud: a database
deployed from a bundle with alarms; its simulated storage use raised over the threshold; the alarm fires in Slipway
through an Alertmanager webhook the sandbox sends; the owner accepts the remedy, the change passes policy and
applies; the alarm resolves when use drops."""

import json
import time

import pytest
from django.core import mail

from audit.models import AuditEvent
from bundles.alarms import remedy_params
from deployments import services
from deployments.alarms.models import AlarmEvent
from deployments.alarms.selectors import firing_alarms
from portal.sandbox import alarms as sandbox_alarms
from portal.sandbox import services as sandbox
from portal.sandbox.models import Delivery, Resource
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sandbox_alarms.wait_for_deliveries(timeout=5)
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} not met after {timeout}s; deliveries: {list(Delivery.objects.values())}")


def test_storage_alarm_fires_the_owner_accepts_the_remedy_and_it_resolves(celery_worker, dev, catalog, proto_env):
    version = catalog["postgres"]
    assert any(a["name"] == "storage-almost-full" for a in version.alarms), "the newest postgres declares alarms"
    deployment = services.deployment_create(
        environment=proto_env, name="orders-db", bundle_version=version, params={"storage_gb": 20}, actor=dev
    )
    run = wait_for_run(deployment.runs.get())
    assert run.status == "succeeded", run.error
    deployment.refresh_from_db()
    database = Resource.objects.get(pk=deployment.outputs["database_id"])

    # The module wired the bundle's alarms in the cloud, each to this deployment's webhook (token sealed there).
    alarms = {a.attributes["alarm_name"]: a for a in Resource.objects.filter(kind="alarm")}
    assert set(alarms) == {"storage-almost-full", "cpu-saturated"}
    storage_alarm = alarms["storage-almost-full"]
    assert storage_alarm.attributes["resource_id"] == database.pk
    assert storage_alarm.attributes["threshold"] == 80 and storage_alarm.attributes["comparison"] == ">="
    url = storage_alarm.sealed["webhook_url"]
    assert f"/hooks/alarms/{deployment.pk}/" in url and url.startswith("http://alarms:")
    token = url.split("alarms:", 1)[1].split("@", 1)[0]
    # The token is nowhere in what Slipway stored about the run.
    stored = json.dumps([list(run.log_lines.values_list("text", flat=True)), run.plan_json, run.plan_summary])
    assert token not in stored and len(token) > 20

    # Raise storage use over the threshold: the sandbox fires and POSTs an Alertmanager webhook to Slipway.
    sandbox.metrics_set(resource_id=database.pk, metrics={"storage_used_percent": 91}, actor="console: ops")
    fired = wait_for(
        lambda: AlarmEvent.objects.filter(deployment=deployment, status="firing").first(), what="alarm firing"
    )
    assert fired.source == "alertmanager" and fired.bundle_alarm == "storage-almost-full"
    assert fired.severity == "warning" and fired.labels["resource_id"] == database.pk
    delivery = Delivery.objects.get(alarm_id=storage_alarm.pk, alert_status="firing")
    assert (delivery.status, delivery.response_status) == ("delivered", 200)
    assert [a.bundle_alarm for a in firing_alarms(deployment)] == ["storage-almost-full"]
    assert AuditEvent.objects.filter(event_type="alarm.firing", target_id=str(deployment.pk)).count() == 1
    told = [m for m in mail.outbox if "Alarm firing" in m.subject]
    assert len(told) == 1 and dev.email in told[0].to

    # The same value again changes nothing: no second notification, no second event.
    sandbox.metrics_set(resource_id=database.pk, metrics={"storage_used_percent": 92}, actor="console: ops")
    sandbox_alarms.wait_for_deliveries()
    assert AlarmEvent.objects.filter(deployment=deployment).count() == 1

    # The owner accepts the remedy (storage x 1.5): an ordinary change, through policy, applied.
    remedy = remedy_params(version.alarms[0], version.params_schema, deployment.params)
    assert (remedy.before, remedy.after) == (20, 30)
    run = wait_for_run(
        services.deployment_update(
            deployment=deployment, params=remedy.params, actor=dev, reason="remedy: storage-almost-full"
        )
    )
    assert run.status == "succeeded", run.error
    assert run.approval_basis.startswith("approved by policy")
    database.refresh_from_db()
    assert database.attributes["storage_gb"] == 30

    # Use drops with the bigger disk: the alarm resolves in Slipway.
    sandbox.metrics_set(resource_id=database.pk, metrics={"storage_used_percent": 61}, actor="console: ops")
    wait_for(
        lambda: AlarmEvent.objects.filter(deployment=deployment, status="resolved").exists(), what="alarm resolved"
    )
    assert firing_alarms(deployment) == []
    assert AuditEvent.objects.filter(event_type="alarm.resolved", target_id=str(deployment.pk)).count() == 1
    assert len([m for m in mail.outbox if "Alarm firing" in m.subject]) == 1
