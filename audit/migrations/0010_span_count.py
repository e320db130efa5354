"""The as-of page's count, from a narrow index (PostgreSQL).

The page counts the spans that hold T (55k on bench/pages.py's data) on every request. 0008's SP-GiST index
answers it index-only, but its entries carry every column the filtered pages read (names, scopes), and the
count walked 27k of its pages: 40 ms. This one holds the period and the status alone; the same count reads a
few thousand pages (10-20 ms). The planner takes it for the unfiltered count, and 0008's for a filtered one.

Built concurrently, as 0009 is (the history trigger writes a span on every change of a deployment); an
invalid leftover of an interrupted build is dropped first.
"""

from importlib import import_module

from django.db import migrations

TABLE = "audit_deploymentspan"
INVALID_LEFTOVER = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE c.relname = 'audit_span_count' AND NOT i.indisvalid) THEN
        DROP INDEX audit_span_count;
    END IF;
END
$$;
"""
COUNT_INDEX = f"""
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_span_count
    ON {TABLE} USING spgist (period) INCLUDE (status) WHERE NOT gone;
"""


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("audit", "0009_span_page_order")]

    operations = [
        import_module("audit.migrations.0003_append_only").PostgresOnlyRunSQL(
            [INVALID_LEFTOVER, COUNT_INDEX], ["DROP INDEX CONCURRENTLY IF EXISTS audit_span_count;"]
        ),
    ]
