"""Bulk changes without the engine: the change itself, the dry run's verdicts, access, and a driver that
survives being superseded or repeated."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from deployments.estate import bulk, rollout, validation
from deployments.models import BulkChange, BulkTarget, Deployment, Policy
from deployments.services import ServiceError


def test_set_creates_missing_parents_and_unset_ignores_missing_paths():
    patch = bulk.clean_patch(
        [
            {"op": "set", "path": "/storage/encrypted", "value": True},
            {"op": "set", "path": "/size", "value": 3},
            {"op": "unset", "path": "/legacy"},
            {"op": "unset", "path": "/nothing/here"},
        ]
    )
    result = bulk.apply_patch({"size": 1, "legacy": "x", "storage": "flat"}, patch)
    assert result == {"size": 3, "storage": {"encrypted": True}}


@pytest.mark.parametrize(
    "patch",
    [{"op": "add", "path": "/a"}, {"op": "set", "path": "a", "value": 1}, {"op": "set", "path": "/a"}, "set /a"],
)
def test_a_malformed_change_is_refused(patch):
    with pytest.raises(ServiceError):
        bulk.clean_patch([patch])


@pytest.fixture
def echoes(catalog, proto_env, prod_env):
    made = []
    for i, copies in enumerate([1, 2, 3, 9]):
        env = prod_env if i % 2 else proto_env
        made.append(
            Deployment.objects.create(
                environment=env,
                name=f"echo-{i}",
                bundle_version=catalog["echo"],
                params={"message": "m", "copies": copies},
            )
        )
    return made


def drive_until_settled(change, limit=20):
    for _ in range(limit):
        if rollout.bulk_drive(change.pk) is None:
            break
    change.refresh_from_db()
    return change


def test_the_dry_run_sorts_targets_by_their_effective_schema(ops, echoes, prod_env):
    Policy.objects.update_or_create(
        environment=prod_env, defaults={"overlays": {"echo": {"properties": {"copies": {"maximum": 4}}}}}
    )
    change = bulk.bulk_change_create(
        title="more copies", query="bundle:echo", patch=[{"op": "set", "path": "/copies", "value": 6}], actor=ops
    )
    bulk.bulk_dry_run_start(bulk=change, actor=ops)
    change = drive_until_settled(change)
    assert change.status == BulkChange.Status.TESTED
    verdicts = {t.deployment.name: (t.verdict, t.errors) for t in change.targets.select_related("deployment")}
    # production's policy caps copies at 4; prototype takes the bundle's maximum of 10
    assert verdicts["echo-0"] == ("clean", {}) and verdicts["echo-2"] == ("clean", {})
    assert verdicts["echo-1"] == ("invalid", {"/copies": ["Must be at most 4."]})
    assert verdicts["echo-3"][0] == "invalid"
    assert "2 clean, 2 invalid" in change.message
    assert all(d.params["copies"] != 6 for d in Deployment.objects.all())  # a dry run changes nothing


def test_validators_are_compiled_once_per_version_and_overlay(ops, echoes, monkeypatch):
    compiled = []
    original = validation.fast_validator
    monkeypatch.setattr(validation, "fast_validator", lambda schema: compiled.append(1) or original(schema))
    validators = validation.Validators()
    for d in Deployment.objects.select_related("environment", "bundle_version__bundle"):
        validators.check(environment=d.environment, bundle_version=d.bundle_version, params=d.params)
    assert len(compiled) == 1


def test_only_ops_run_bulk_changes(client, dev, echoes):
    with pytest.raises(PermissionDenied):
        bulk.bulk_change_create(title="x", query="bundle:echo", patch=[{"op": "unset", "path": "/copies"}], actor=dev)
    client.force_login(dev)
    assert client.get(reverse("deployments:bulk-new")).status_code == 403
    assert (
        client.post("/api/v1/bulk-changes/", {"query": "bundle:echo"}, content_type="application/json").status_code
        == 403
    )


def test_a_change_needs_a_valid_query_that_selects_something(ops, echoes):
    with pytest.raises(ServiceError, match="not valid"):
        bulk.bulk_change_create(title="x", query="bundle:(", patch=[{"op": "unset", "path": "/a"}], actor=ops)
    change = bulk.bulk_change_create(
        title="x", query="bundle:nothing", patch=[{"op": "unset", "path": "/a"}], actor=ops
    )
    with pytest.raises(ServiceError, match="selects no deployment"):
        bulk.bulk_dry_run_start(bulk=change, actor=ops)


def test_rollout_needs_a_tested_change(ops, echoes):
    change = bulk.bulk_change_create(
        title="x", query="bundle:echo", patch=[{"op": "unset", "path": "/copies"}], actor=ops
    )
    with pytest.raises(ServiceError, match="dry run first"):
        bulk.bulk_rollout_start(bulk=change, actor=ops)


def test_a_superseded_driver_chain_stops_and_a_quiet_one_is_restarted(ops, echoes):
    change = bulk.bulk_change_create(
        title="x", query="bundle:echo", patch=[{"op": "unset", "path": "/copies"}], actor=ops
    )
    change = bulk.bulk_dry_run_start(bulk=change, actor=ops)
    old_token = change.driver_token
    # Nobody drove it for a while (the worker restarted): the periodic kick (or the restart button) starts a new chain.
    BulkChange.objects.filter(pk=change.pk).update(driven_at=timezone.now() - timedelta(minutes=5))
    change.refresh_from_db()
    assert rollout.bulk_kick(bulk=change)
    change.refresh_from_db()
    assert change.driver_token != old_token
    assert rollout.bulk_drive(change.pk, old_token) is None  # the old chain's next message does nothing
    assert change.targets.filter(verdict=BulkTarget.Verdict.PENDING).count() == 4
    assert not rollout.bulk_kick(bulk=change)  # fresh: no second chain
    rollout.bulk_drive(change.pk, change.driver_token)
    assert not change.targets.filter(verdict=BulkTarget.Verdict.PENDING).exists()


def test_the_bulk_page_reports_the_dry_run(client, ops, echoes):
    change = bulk.bulk_change_create(
        title="more", query="bundle:echo", patch=[{"op": "set", "path": "/copies", "value": 12}], actor=ops
    )
    bulk.bulk_dry_run_start(bulk=change, actor=ops)
    drive_until_settled(change)
    client.force_login(ops)
    body = client.get(change.get_absolute_url()).content.decode()
    assert "Invalid (4)" in body and "Must be at most 10." in body and "set /copies = 12" in body
