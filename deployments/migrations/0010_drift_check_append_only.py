"""Drift checks are evidence like runs (0008): on PostgreSQL a trigger refuses deleting one, changing what a
check found once it is finished (its status, timing, state version, resources, observed attributes, error
and log), rewriting a resolution once written (reverted, accepted, cleared, superseded: who, when, why, by
which run), and changing what never changes (its deployment, channel, requester, creation time). The one
exception is a deleted user's foreign key set to NULL (Django's SET_NULL); the name stays as text. The model
refuses the same on every database (``deployments.drift.models``). TRUNCATE fires no row trigger (the test
runner uses it).
"""

from django.db import migrations

FORWARDS = [
    """
CREATE OR REPLACE FUNCTION slipway_drift_check_evidence() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    new_row jsonb := to_jsonb(NEW);
    free text[] := ARRAY[]::text[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'deployments_driftcheck is append-only: DELETE is not allowed'
            USING ERRCODE = 'insufficient_privilege', HINT = 'Drift checks are evidence; they are never deleted.';
    END IF;
    IF OLD.status IN ('queued', 'running') THEN  -- the check is still finding out
        free := free || ARRAY['status', 'dispatched_at', 'started_at', 'finished_at', 'state_version_id',
                              'state_serial', 'resources', 'observed', 'drifted_attributes', 'error', 'log'];
    END IF;
    IF OLD.resolution = '' THEN  -- resolved once: revert, accept, or a later check
        free := free || ARRAY['resolution', 'resolved_by_id', 'resolved_by_name', 'resolved_at',
                              'resolution_reason', 'resolution_run_id'];
    END IF;
    IF NEW.requested_by_id IS NULL THEN  -- a deleted user (SET_NULL)
        free := free || ARRAY['requested_by_id'];
    END IF;
    IF NEW.resolved_by_id IS NULL THEN
        free := free || ARRAY['resolved_by_id'];
    END IF;
    IF (new_row - free) IS DISTINCT FROM (old_row - free) THEN
        RAISE EXCEPTION 'deployments_driftcheck is append-only: a finished check or a resolution is not rewritten'
            USING ERRCODE = 'insufficient_privilege', HINT = 'Drift checks are evidence; record a new check instead.';
    END IF;
    RETURN NEW;
END
$$;
""",
    "CREATE TRIGGER deployments_driftcheck_evidence BEFORE UPDATE OR DELETE ON deployments_driftcheck "
    "FOR EACH ROW EXECUTE FUNCTION slipway_drift_check_evidence();",
]

BACKWARDS = [
    "DROP TRIGGER IF EXISTS deployments_driftcheck_evidence ON deployments_driftcheck;",
    "DROP FUNCTION IF EXISTS slipway_drift_check_evidence();",
]


def _postgres_only():
    from importlib import import_module

    return import_module("deployments.migrations.0008_run_evidence_append_only").PostgresOnlyRunSQL


class Migration(migrations.Migration):
    dependencies = [("deployments", "0009_merge")]

    operations = [_postgres_only()(FORWARDS, BACKWARDS)]
