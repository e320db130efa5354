"""Bulk changes and resource queries on real services: the engine writes state, a Celery worker drives the
dry run (planning every valid target) and the rollout in waves."""

import json
import time
from pathlib import Path

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from bundles.loader import read_bundle
from bundles.services import bundle_version_publish
from deployments import services
from deployments.estate import bulk
from deployments.estate.query import estate_query
from deployments.models import BulkChange, BulkTarget, Deployment, StateResource
from portal.history import change_of
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SECRET = "sk-live-0a1b2c3d4e5f6789"


def wait_for(change, statuses, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        change.refresh_from_db()
        if change.status in statuses:
            return change
        time.sleep(0.5)
    pytest.fail(f"bulk change #{change.pk} still {change.status}: {change.message}")


def names(text):
    return sorted(estate_query(text).filter(Deployment.objects.all()).values_list("name", flat=True))


def test_resource_attributes_are_queried_from_state_the_engine_wrote(celery_worker, dev, catalog, proto_env):
    made = services.deployment_create(
        environment=proto_env,
        name="bench",
        bundle_version=catalog["workbench"],
        params={"message": "hello estate", "api_key": SECRET},
        actor=dev,
    )
    assert wait_for_run(made.runs.get()).status == "succeeded"
    rows = StateResource.objects.filter(deployment=made)
    assert {r.address for r in rows} == {"terraform_data.thing", "terraform_data.credential"}
    assert names('resource.terraform_data.input.message:"hello estate"') == ["bench"]
    assert names("resource.terraform_data.input.name~checkout-proto-bench") == ["bench"]
    assert names("resource.terraform_data.triggers_replace:1") == ["bench"]
    # The secret is marked sensitive in the state: it is never indexed, so it cannot be found or read back.
    assert SECRET not in json.dumps([r.attributes for r in rows])
    assert "input" not in rows.get(address="terraform_data.credential").attributes
    assert names(f"resource.terraform_data.input~{SECRET}") == []
    assert names(f"resource.terraform_data.output~{SECRET}") == []

    run = wait_for_run(
        services.deployment_update(deployment=made, params={"message": "changed", "api_key": SECRET}, actor=dev)
    )
    assert run.status == "succeeded"
    assert names("resource.terraform_data.input.message:changed") == ["bench"]  # the index follows the latest state
    assert names('resource.terraform_data.input.message:"hello estate"') == []


def test_a_bundle_upgrade_is_dry_run_against_every_deployment_then_rolled_out_in_waves(
    celery_worker, client, ops, catalog, proto_env
):
    v1 = catalog["fleet"]
    # 14 that upgrade cleanly, 3 whose node v2 recreates (size 4-5), 3 that v2 no longer allows (size > 5)
    sizes = [1, 2, 3] * 4 + [1, 2] + [4, 5, 4] + [7, 8, 9]
    made = [
        services.deployment_create(
            environment=proto_env,
            name=f"node-{i:02d}",
            bundle_version=v1,
            params={"message": f"n{i}", "size": size},
            actor=ops,
        )
        for i, size in enumerate(sizes)
    ]
    for deployment in made:
        assert wait_for_run(deployment.runs.get()).status == "succeeded"
    v2 = bundle_version_publish(manifest=read_bundle(FIXTURES / "estate" / "fleet-2.0.0"), actor=ops).version

    client.force_login(ops)
    page = client.get(reverse("bundles:detail", args=["fleet"])).content.decode()
    assert "Dry-run the upgrade of the 20 deployments on older versions" in page
    client.post(reverse("deployments:bulk-upgrade", args=[v2.pk]))
    change = wait_for(BulkChange.objects.get(), [BulkChange.Status.TESTED])

    by_name = {t.deployment.name: t for t in change.targets.select_related("deployment")}
    invalid = {name: t.errors for name, t in by_name.items() if t.verdict == BulkTarget.Verdict.INVALID}
    assert invalid == {name: {"/size": ["Must be at most 5."]} for name in ("node-17", "node-18", "node-19")}
    risky = {name: t.resources for name, t in by_name.items() if t.verdict == BulkTarget.Verdict.RISKY}
    assert set(risky) == {"node-14", "node-15", "node-16"}
    assert all([r["address"] for r in res] == ["terraform_data.node"] for res in risky.values())
    assert all(res[0]["action"] == "replace" for res in risky.values())
    assert sum(t.verdict == BulkTarget.Verdict.CLEAN for t in by_name.values()) == 14
    assert "14 clean, 3 invalid, 3 would replace or destroy" in change.message
    assert not Deployment.objects.filter(bundle_version=v2).exists()  # the dry run changed nothing
    report = client.get(change.get_absolute_url()).content.decode()
    assert "Invalid (3)" in report and "Would replace or destroy (3)" in report and "Must be at most 5." in report

    response = client.post(
        f"/api/v1/bulk-changes/{change.pk}/rollout/",
        {"wave_size": 5, "failure_threshold": 2, "include_risky": True},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    change = wait_for(change, [BulkChange.Status.COMPLETED, BulkChange.Status.STOPPED], timeout=300)
    assert change.status == BulkChange.Status.COMPLETED, change.message

    upgraded = Deployment.objects.filter(bundle_version=v2)
    assert sorted(upgraded.values_list("name", flat=True)) == sorted(f"node-{i:02d}" for i in range(17))
    assert sorted(Deployment.objects.filter(bundle_version=v1).values_list("name", flat=True)) == sorted(invalid)
    targets = change.targets.exclude(rollout=BulkTarget.Rollout.SKIPPED)
    assert sorted(set(targets.values_list("wave", flat=True))) == [1, 2, 3, 4]  # 17 in waves of 5
    assert all(targets.filter(wave=w).count() <= 5 for w in (1, 2, 3, 4))
    assert targets.filter(rollout=BulkTarget.Rollout.SUCCEEDED).count() == 14
    # Plans that recreate a node wait for a person even in a bulk change.
    assert set(targets.filter(rollout=BulkTarget.Rollout.HELD).values_list("deployment__name", flat=True)) == set(risky)
    assert "14 succeeded, 0 failed, 3 waiting for review, in 4 waves" in change.message

    history = Deployment.objects.get(name="node-00").history.all()
    reasons = [change_of(h) for h in history]
    [reason] = [r for r in reasons if r.channel == "bulk"]
    assert f"bulk change #{change.pk}" in reason.note and reason.actor == "ops"
    assert reason.basis.startswith("approved by policy")
    assert AuditEvent.objects.filter(event_type="bulk.started", channel="bulk").count() == 1
    assert all(t.run.channel == "bulk" for t in targets.select_related("run"))


def test_a_rollout_stops_when_failures_reach_the_threshold_and_says_so(celery_worker, ops, catalog, proto_env):
    made = [
        services.deployment_create(
            environment=proto_env,
            name=f"wire-{i}",
            bundle_version=catalog["tripwire"],
            params={"message": "ok"},
            actor=ops,
        )
        for i in range(5)
    ]
    for deployment in made:
        assert wait_for_run(deployment.runs.get()).status == "succeeded"
    # The schema accepts "trip"; the module refuses it when it plans. Without planning, the dry run finds it clean.
    change = bulk.bulk_change_create(
        title="trip them",
        query="bundle:tripwire",
        patch=[{"op": "set", "path": "/message", "value": "trip"}],
        actor=ops,
    )
    bulk.bulk_dry_run_start(bulk=change, actor=ops, plan=False)
    change = wait_for(change, [BulkChange.Status.TESTED])
    assert change.targets.filter(verdict=BulkTarget.Verdict.CLEAN).count() == 5

    bulk.bulk_rollout_start(bulk=change, actor=ops, wave_size=2, failure_threshold=2)
    change = wait_for(change, [BulkChange.Status.COMPLETED, BulkChange.Status.STOPPED])
    assert change.status == BulkChange.Status.STOPPED
    assert "Stopped: 2 targets failed, which reaches the failure threshold of 2." in change.message
    assert "3 were not started" in change.message
    assert change.targets.filter(rollout=BulkTarget.Rollout.FAILED).count() == 2
    assert change.waves_started == 1
    untouched = change.targets.filter(rollout=BulkTarget.Rollout.SKIPPED).values_list("deployment", flat=True)
    assert all(d.params["message"] == "ok" for d in Deployment.objects.filter(pk__in=untouched))
    assert AuditEvent.objects.filter(event_type="bulk.stopped").exists()
