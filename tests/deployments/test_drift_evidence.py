"""Drift checks are evidence, like runs (tests/deployments/test_run_evidence.py): a check's row moves while it
is queued or running, its resolution is written once, and nothing else ever changes; no check is deleted. The
model refuses on every database; on PostgreSQL a trigger refuses the same in plain SQL."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from deployments import services
from deployments.drift.models import DriftCheck
from deployments.runs.models import AppendOnly

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL; SQLite relies on the models"
)
FOUND = [{"address": "sandbox_database.main", "changes": [{"path": "storage_gb", "before": 20, "after": 50}]}]


@pytest.fixture
def deployment(dev, catalog, proto_env):
    return services.deployment_create(
        environment=proto_env, name="orders-db", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )


@pytest.fixture
def check(deployment, dev):
    """A check that ran its course as the worker writes it: queued, running, then what it found."""
    check = DriftCheck.objects.create(deployment=deployment, channel="ui", requested_by=dev, requested_by_name="dev")
    DriftCheck.objects.filter(pk=check.pk).update(dispatched_at=timezone.now())
    DriftCheck.objects.filter(pk=check.pk).update(status="running", started_at=timezone.now())
    DriftCheck.objects.filter(pk=check.pk).update(
        status="drifted", resources=FOUND, drifted_attributes=" storage_gb ", finished_at=timezone.now()
    )
    return DriftCheck.objects.get(pk=check.pk)


def sql(statement, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_a_finished_check_keeps_what_it_found_and_its_resolution_is_written_once(check, ops):
    with pytest.raises(AppendOnly, match="never rewritten"):
        DriftCheck.objects.filter(pk=check.pk).update(status="in_sync", resources=[])
    with pytest.raises(AppendOnly, match="never change"):
        DriftCheck.objects.filter(pk=check.pk).update(requested_by_name="someone else")
    DriftCheck.objects.filter(pk=check.pk).update(
        resolution="reverted", resolved_by=ops, resolved_by_name="ops", resolution_reason="back to 20"
    )
    with pytest.raises(AppendOnly, match="written once"):
        DriftCheck.objects.filter(pk=check.pk).update(resolution="accepted", resolved_by_name="nobody")
    check.refresh_from_db()
    check.error = "it was fine really"
    with pytest.raises(AppendOnly):
        check.save()
    check = DriftCheck.objects.get(pk=check.pk)
    assert (check.status, check.resources, check.error) == ("drifted", FOUND, "")
    assert (check.resolution, check.resolved_by_name) == ("reverted", "ops")


def test_drift_checks_are_never_deleted(check):
    with pytest.raises(AppendOnly):
        check.delete()
    with pytest.raises(AppendOnly):
        DriftCheck.objects.filter(pk=check.pk).delete()
    assert DriftCheck.objects.filter(pk=check.pk).exists()


@postgres_only
def test_in_sql_the_trigger_refuses_rewriting_or_deleting_a_check(check, ops):
    table = "deployments_driftcheck"
    with pytest.raises(DatabaseError, match="append-only"):
        sql(f"UPDATE {table} SET status = 'in_sync', resources = '[]' WHERE id = %s", [check.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        sql(f"UPDATE {table} SET log = 'nothing to see' WHERE id = %s", [check.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        sql(f"UPDATE {table} SET channel = 'schedule' WHERE id = %s", [check.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        sql(f"DELETE FROM {table} WHERE id = %s", [check.pk])
    # A resolution is written once, then it is evidence too.
    sql(
        f"UPDATE {table} SET resolution = 'accepted', resolved_by_id = %s, resolved_by_name = 'ops' WHERE id = %s",
        [ops.pk, check.pk],
    )
    with pytest.raises(DatabaseError, match="append-only"):
        sql(f"UPDATE {table} SET resolution = 'reverted' WHERE id = %s", [check.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        sql(f"UPDATE {table} SET resolution_reason = 'forged' WHERE id = %s", [check.pk])
    check = DriftCheck.objects.get(pk=check.pk)
    assert (check.status, check.resources, check.resolution, check.resolution_reason) == (
        "drifted",
        FOUND,
        "accepted",
        "",
    )


@postgres_only
def test_in_sql_a_check_moves_while_it_runs(deployment):
    pending = DriftCheck.objects.create(deployment=deployment)
    sql("UPDATE deployments_driftcheck SET status = 'running', started_at = now() WHERE id = %s", [pending.pk])
    sql(
        "UPDATE deployments_driftcheck SET status = 'error', error = 'no engine', finished_at = now() WHERE id = %s",
        [pending.pk],
    )
    with pytest.raises(DatabaseError, match="append-only"):
        sql("UPDATE deployments_driftcheck SET error = '' WHERE id = %s", [pending.pk])
    assert DriftCheck.objects.get(pk=pending.pk).error == "no engine"


def test_a_user_who_requested_and_resolved_checks_can_still_be_deleted(check, ops):
    DriftCheck.objects.filter(pk=check.pk).update(resolution="reverted", resolved_by=ops, resolved_by_name="ops")
    requester = check.requested_by
    requester.delete()
    ops.delete()
    check = DriftCheck.objects.get(pk=check.pk)
    assert (check.requested_by_id, check.resolved_by_id) == (None, None)
    assert (check.requested_by_name, check.resolved_by_name) == ("dev", "ops")  # the names stay as text
