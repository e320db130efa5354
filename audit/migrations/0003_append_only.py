"""History and audit events are append-only: on PostgreSQL a trigger rejects UPDATE and DELETE.

One exception: deleting a user sets its foreign key to NULL in the rows it wrote (Django's
SET_NULL). The trigger lets exactly that through, so users can still be deleted, and the name
stays in the row as text (``actor_name``, and the actor in ``history_change_reason``).
TRUNCATE (``manage.py flush``, the test runner between transactional tests) fires no row
trigger and still works.

Also the indexes the reviewer pages need on the deployment history (see bench/audit_diff.py).
"""

from django.db import migrations

# table, the user column that SET_NULL may clear
APPEND_ONLY_TABLES = [
    ("audit_auditevent", "actor_id"),
    ("portal_historicalteam", "history_user_id"),
    ("portal_historicalmembership", "history_user_id"),
    ("bundles_historicalbundle", "history_user_id"),
    ("bundles_historicalbundleversion", "history_user_id"),
    ("deployments_historicalproject", "history_user_id"),
    ("deployments_historicalenvironment", "history_user_id"),
    ("deployments_historicaldeployment", "history_user_id"),
]

FUNCTION = """
CREATE OR REPLACE FUNCTION slipway_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    user_column text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'UPDATE' AND user_column IS NOT NULL
       AND to_jsonb(NEW) ->> user_column IS NULL
       AND (to_jsonb(NEW) - user_column) = (to_jsonb(OLD) - user_column) THEN
        RETURN NEW;  -- a deleted user's foreign key set to NULL; nothing else changes
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'History and audit events are evidence; record a new change instead.';
END
$$;
"""


class PostgresOnlyRunSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (SQLite in the embedded setup has no triggers of this kind)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def _triggers() -> tuple[list[str], list[str]]:
    forwards, backwards = [FUNCTION], []
    for table, user_column in APPEND_ONLY_TABLES:
        name = f"{table}_append_only"
        forwards.append(
            f"CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION slipway_append_only('{user_column}');"
        )
        backwards.append(f"DROP TRIGGER IF EXISTS {name} ON {table};")
    backwards.append("DROP FUNCTION IF EXISTS slipway_append_only();")
    return forwards, backwards


FORWARDS, BACKWARDS = _triggers()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_deployment_scope"),
        ("portal", "0001_initial"),
        ("bundles", "0001_initial"),
        ("deployments", "0001_initial"),
    ]

    operations = [
        # The newest row of each deployment at or before T (as-of, diff), and one deployment's
        # versions in order (history page).
        migrations.RunSQL(
            "CREATE INDEX audit_hdeployment_id_date ON deployments_historicaldeployment "
            "(id, history_date DESC, history_id DESC);",
            "DROP INDEX audit_hdeployment_id_date;",
        ),
        # Timeline and diff: events of one deployment in a window.
        migrations.RunSQL(
            "CREATE INDEX audit_event_deployment_date ON audit_auditevent (deployment_id, created_at);",
            "DROP INDEX audit_event_deployment_date;",
        ),
        PostgresOnlyRunSQL(FORWARDS, BACKWARDS),
    ]
