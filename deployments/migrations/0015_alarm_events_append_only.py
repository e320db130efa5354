"""Alarm events are evidence like runs (0008) and drift checks (0010): on PostgreSQL a trigger refuses changing
or deleting one. The model refuses the same on every database (``deployments.alarms.models``). TRUNCATE fires no
row trigger (the test runner uses it); a deployment is never deleted (its row is history), so the cascade never
runs either.
"""

from django.db import migrations

FORWARDS = [
    """
CREATE OR REPLACE FUNCTION slipway_alarm_event_evidence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'deployments_alarmevent is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege', HINT = 'Alarm events are evidence; record a new event instead.';
END
$$;
""",
    "CREATE TRIGGER deployments_alarmevent_evidence BEFORE UPDATE OR DELETE ON deployments_alarmevent "
    "FOR EACH ROW EXECUTE FUNCTION slipway_alarm_event_evidence();",
]

BACKWARDS = [
    "DROP TRIGGER IF EXISTS deployments_alarmevent_evidence ON deployments_alarmevent;",
    "DROP FUNCTION IF EXISTS slipway_alarm_event_evidence();",
]


def _postgres_only():
    from importlib import import_module

    return import_module("deployments.migrations.0008_run_evidence_append_only").PostgresOnlyRunSQL


class Migration(migrations.Migration):
    dependencies = [("deployments", "0014_alarms")]

    operations = [_postgres_only()(FORWARDS, BACKWARDS)]
