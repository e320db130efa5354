"""The as-of page's first pages in their order, along an index (PostgreSQL).

The page sorts the estate at T by project, environment and name. Sorting every span that holds T (55k on
bench/audit_diff.py's data) to show the first 100 took about 65 ms. Walking this index in that order reads
about 2,000 entries for the first page (1-5 ms): it includes the period and the filtered columns, so the
spans of other moments and other filters are skipped in the index alone. Deep pages and narrow filters (a
name) still start from 0008's SP-GiST probe; the planner chooses by the rows it expects to walk.

Built concurrently (outside a transaction): the history trigger writes a span on every change of a
deployment, and a plain build would hold those writes for as long as it reads the table. A build that fails
leaves an invalid index behind; it is dropped first, so running the migration again builds it anew.
"""

from importlib import import_module

from django.db import migrations

TABLE = "audit_deploymentspan"
# A build interrupted earlier leaves the index invalid (and IF NOT EXISTS would keep it): drop it first.
INVALID_LEFTOVER = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE c.relname = 'audit_span_page_order' AND NOT i.indisvalid) THEN
        DROP INDEX audit_span_page_order;
    END IF;
END
$$;
"""
ORDER_INDEX = f"""
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_span_page_order
    ON {TABLE} (scope_project, scope_environment, name, deployment_id)
    INCLUDE (period, status, scope_team, scope_tier, bundle_version_id, history_id) WHERE NOT gone;
"""


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("audit", "0008_deployment_spans")]

    operations = [
        import_module("audit.migrations.0003_append_only").PostgresOnlyRunSQL(
            [INVALID_LEFTOVER, ORDER_INDEX], ["DROP INDEX CONCURRENTLY IF EXISTS audit_span_page_order;"]
        ),
    ]
