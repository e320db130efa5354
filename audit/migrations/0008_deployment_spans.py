"""When each deployment history row was the deployment's state: a side table of spans
(``audit.DeploymentSpan``), so the estate as of T is an index range probe and the estate diff reads
both states by key, not a ``DISTINCT ON`` over every history row up to T.

The history table stays append-only (0003): nothing here updates it. On PostgreSQL a statement-level
trigger on insert into it (every writer: the services, the admin, bulk paths, restore, raw SQL) adds the
new rows' spans and recomputes the end of the spans they follow; the existing rows are filled here, in
one set-based statement (a window ``lead`` over the history, about 10 s for 1M rows on the bench
machine), with inserts into the history table blocked meanwhile. Elsewhere (SQLite) the table stays
empty and the selectors read the history table as before.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "audit_deploymentspan"
HISTORY = "deployments_historicaldeployment"
COPIED = "status, name, bundle_version_id, scope_team, scope_project, scope_environment, scope_tier"

FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_deployment_spans() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The new rows' spans, open-ended for now.
    INSERT INTO {TABLE} (history_id, deployment_id, valid_from, valid_until, gone, {COPIED})
    SELECT history_id, id, history_date, 'infinity', history_type = '-', {COPIED} FROM new_rows;
    -- Each touched deployment's spans from the one the earliest new row follows on: each ends where
    -- the next begins (in the order the selectors read: history_date, then history_id). Ends only grow
    -- along that order, so "ends at or after the earliest new row" is exactly that suffix.
    WITH touched AS (SELECT id, min(history_date) AS since FROM new_rows GROUP BY id),
    tail AS (
        SELECT s.history_id,
               lead(s.valid_from, 1, 'infinity') OVER (
                   PARTITION BY s.deployment_id ORDER BY s.valid_from, s.history_id
               ) AS until
        FROM {TABLE} s JOIN touched t ON s.deployment_id = t.id AND s.valid_until >= t.since
    )
    UPDATE {TABLE} s SET valid_until = tail.until
    FROM tail WHERE s.history_id = tail.history_id AND s.valid_until <> tail.until;
    RETURN NULL;
END
$$;
"""

TRIGGER = (
    f"CREATE TRIGGER {HISTORY}_spans AFTER INSERT ON {HISTORY} "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_deployment_spans();"
)

# The estate at T is the spans whose period holds T: an SP-GiST probe (a 2-d search on the period's
# ends), with the columns the as-of page filters and sorts by in the index, so counting and sorting
# read the index alone (once vacuum has marked the table's pages all-visible). A btree on either end
# would scan every span begun before T (or ending after it): half the table in the middle of a year.
PERIOD = f"""
ALTER TABLE {TABLE} ADD COLUMN period tstzrange
    GENERATED ALWAYS AS (tstzrange(valid_from, valid_until, '[)')) STORED;
"""
PERIOD_INDEX = f"""
CREATE INDEX audit_span_period ON {TABLE} USING spgist (period)
    INCLUDE (history_id, deployment_id, {COPIED}) WHERE NOT gone;
"""

BACKFILL = f"""
LOCK TABLE {HISTORY} IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO {TABLE} (history_id, deployment_id, valid_from, valid_until, gone, {COPIED})
SELECT history_id, id, history_date,
       lead(history_date, 1, 'infinity') OVER (PARTITION BY id ORDER BY history_date, history_id),
       history_type = '-', {COPIED}
FROM {HISTORY};
ANALYZE {TABLE};
"""


def _postgres_only(forwards: list[str], backwards: list[str]):
    from importlib import import_module

    return import_module("audit.migrations.0003_append_only").PostgresOnlyRunSQL(forwards, backwards)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0007_resource_type_history_append_only"),
        ("deployments", "0016_merge_round_three"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeploymentSpan",
            fields=[
                (
                    "history",
                    models.OneToOneField(
                        db_column="history_id",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="span",
                        serialize=False,
                        to="deployments.historicaldeployment",
                    ),
                ),
                ("deployment_id", models.UUIDField()),
                ("valid_from", models.DateTimeField()),
                ("valid_until", models.DateTimeField()),
                ("gone", models.BooleanField()),
                ("status", models.CharField(max_length=20)),
                ("name", models.CharField(max_length=60)),
                ("bundle_version_id", models.BigIntegerField(null=True)),
                ("scope_team", models.CharField(max_length=60)),
                ("scope_project", models.CharField(max_length=60)),
                ("scope_environment", models.CharField(max_length=60)),
                ("scope_tier", models.CharField(max_length=20)),
            ],
        ),
        # Filled before its indexes exist (faster), the trigger created in the same transaction.
        _postgres_only([PERIOD, BACKFILL], [f"DELETE FROM {TABLE};", f"ALTER TABLE {TABLE} DROP COLUMN period;"]),
        migrations.AddIndex(
            model_name="deploymentspan",
            index=models.Index(fields=["deployment_id", "valid_until"], name="audit_span_deployment_until"),
        ),
        _postgres_only([PERIOD_INDEX], ["DROP INDEX IF EXISTS audit_span_period;"]),
        _postgres_only(
            [FUNCTION, TRIGGER],
            [
                f"DROP TRIGGER IF EXISTS {HISTORY}_spans ON {HISTORY};",
                "DROP FUNCTION IF EXISTS audit_deployment_spans();",
            ],
        ),
    ]
