"""A run's approval evidence and its log are append-only, like history (audit 0003): on PostgreSQL a
trigger refuses deleting a run or a log line, changing a run's approval basis other than by appending
to it (an ops approval adds "; plan approved by ..."), and changing a log line other than masking its
text while its run executes (secrets first known after apply). The models refuse the same on every
database (``deployments.runs.models``). TRUNCATE fires no row trigger (the test runner uses it).
"""

from django.db import migrations

FORWARDS = [
    """
CREATE OR REPLACE FUNCTION slipway_run_evidence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'deployments_run is append-only: DELETE is not allowed'
            USING ERRCODE = 'insufficient_privilege', HINT = 'Runs are evidence; they are never deleted.';
    END IF;
    IF OLD.approval_basis <> '' AND NEW.approval_basis IS DISTINCT FROM OLD.approval_basis
       AND left(NEW.approval_basis, length(OLD.approval_basis)) <> OLD.approval_basis THEN
        RAISE EXCEPTION 'deployments_run.approval_basis is append-only: it can only be added to'
            USING ERRCODE = 'insufficient_privilege', HINT = 'Approval evidence is never rewritten.';
    END IF;
    RETURN NEW;
END
$$;
""",
    "CREATE TRIGGER deployments_run_evidence BEFORE UPDATE OR DELETE ON deployments_run "
    "FOR EACH ROW EXECUTE FUNCTION slipway_run_evidence();",
    """
CREATE OR REPLACE FUNCTION slipway_log_line_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.run_id = OLD.run_id AND NEW.seq = OLD.seq
       AND NEW.stream = OLD.stream AND NEW.level = OLD.level AND NEW.created_at = OLD.created_at
       AND EXISTS (SELECT 1 FROM deployments_run r WHERE r.id = OLD.run_id AND r.status IN ('running', 'applying')) THEN
        RETURN NEW;  -- the runner masking a secret in a line of the run it is executing
    END IF;
    RAISE EXCEPTION 'deployments_runlogline is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege', HINT = 'A run''s log is evidence; it is never rewritten.';
END
$$;
""",
    "CREATE TRIGGER deployments_runlogline_append_only BEFORE UPDATE OR DELETE ON deployments_runlogline "
    "FOR EACH ROW EXECUTE FUNCTION slipway_log_line_append_only();",
]

BACKWARDS = [
    "DROP TRIGGER IF EXISTS deployments_runlogline_append_only ON deployments_runlogline;",
    "DROP FUNCTION IF EXISTS slipway_log_line_append_only();",
    "DROP TRIGGER IF EXISTS deployments_run_evidence ON deployments_run;",
    "DROP FUNCTION IF EXISTS slipway_run_evidence();",
]


class PostgresOnlyRunSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (on SQLite the models refuse instead)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("deployments", "0007_worker")]

    operations = [PostgresOnlyRunSQL(FORWARDS, BACKWARDS)]
