"""The number of runs, kept by the database as runs are added, so that the API's runs list answers its
``count`` without counting a million rows (issue 18).

Runs are never deleted (0008's trigger refuses it), so the count only grows: each transaction that adds
runs adds their number, at its commit, to one of 16 rows (by the backend's pid, so that two transactions
committing runs at once rarely wait on the same row). It is in the same transaction as the rows, so a
snapshot sees the count of exactly the runs it sees. TRUNCATE (the test runner's flush) sets it to 0.
``deployments.runs.selectors.runs_count`` reads it; other databases count.
"""

from django.db import migrations

FORWARDS = [
    "CREATE TABLE deployments_run_tally (slot smallint PRIMARY KEY, runs bigint NOT NULL DEFAULT 0);",
    "INSERT INTO deployments_run_tally (slot, runs) SELECT g, 0 FROM generate_series(0, 15) g;",
    "UPDATE deployments_run_tally SET runs = (SELECT count(*) FROM deployments_run) WHERE slot = 0;",
    # Each INSERT adds its rows to the transaction's own tally (a transaction-local setting, undone with a
    # rolled-back savepoint as the rows are)...
    """
CREATE OR REPLACE FUNCTION slipway_run_tally_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE deployments_run_tally SET runs = 0 WHERE runs <> 0;
        PERFORM set_config('slipway.runs_added', '0', true);
    ELSE
        PERFORM set_config('slipway.runs_added', (coalesce(nullif(current_setting('slipway.runs_added', true), ''), '0')::bigint
            + (SELECT count(*) FROM added))::text, true);
    END IF;
    RETURN NULL;
END
$$;
""",
    # ...and at commit (a deferred trigger: the tally row is the transaction's last lock, so it cannot be part
    # of a deadlock) the first of its rows moves that tally into the table; the others find it 0.
    """
CREATE OR REPLACE FUNCTION slipway_run_tally_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint := coalesce(nullif(current_setting('slipway.runs_added', true), ''), '0')::bigint;
BEGIN
    IF n <> 0 THEN
        UPDATE deployments_run_tally SET runs = runs + n WHERE slot = pg_backend_pid() % 16;
        PERFORM set_config('slipway.runs_added', '0', true);
    END IF;
    RETURN NULL;
END
$$;
""",
    "CREATE TRIGGER deployments_run_tally_insert AFTER INSERT ON deployments_run "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION slipway_run_tally_add();",
    "CREATE TRIGGER deployments_run_tally_truncate AFTER TRUNCATE ON deployments_run "
    "FOR EACH STATEMENT EXECUTE FUNCTION slipway_run_tally_add();",
    "CREATE CONSTRAINT TRIGGER deployments_run_tally_commit AFTER INSERT ON deployments_run "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slipway_run_tally_commit();",
]

BACKWARDS = [
    "DROP TRIGGER IF EXISTS deployments_run_tally_commit ON deployments_run;",
    "DROP TRIGGER IF EXISTS deployments_run_tally_truncate ON deployments_run;",
    "DROP TRIGGER IF EXISTS deployments_run_tally_insert ON deployments_run;",
    "DROP FUNCTION IF EXISTS slipway_run_tally_commit();",
    "DROP FUNCTION IF EXISTS slipway_run_tally_add();",
    "DROP TABLE IF EXISTS deployments_run_tally;",
]


class PostgresOnlyRunSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (there the count is counted)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("deployments", "0016_merge_round_three")]

    operations = [PostgresOnlyRunSQL(FORWARDS, BACKWARDS)]
