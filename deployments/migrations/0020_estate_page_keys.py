"""Two narrow indexes for the estate's pages (PostgreSQL).

The estate page counts its matches per environment, then reads each environment's share of the page in name
order (``deployments.estate.query.Matches``). Both read only a deployment's key, environment, name, status
and bundle version, but the table's rows carry the params, outputs and state columns, so every scan of the
100k deployments (a regex's postings hashed against every deployment, a team's environments) read 37 MB of
heap. Each index holds just those columns, so the reads are index-only: by key (for a condition that names
the deployments, such as the postings of a value), and by environment then name (for an environment's
deployments, in the page's order). On bench/estate_query.py the slowest shapes went from 53-57 ms p95 to
40 ms. The status, name, environment and bundle version already had indexes, so updates that were not HOT
stay as they were; each writes two more index entries.

Built concurrently (deployments are written all day); an invalid leftover of an interrupted build is dropped
first, so running the migration again builds it anew.
"""

from importlib import import_module

from django.db import migrations

TABLE = "deployments_deployment"
INDEXES = {
    "deployment_keys": "(id) INCLUDE (environment_id, bundle_version_id, status, name)",
    "deployment_environment_names": "(environment_id, name) INCLUDE (id, status, bundle_version_id)",
}


def _invalid_leftover(name: str) -> str:
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE c.relname = '{name}' AND NOT i.indisvalid) THEN
        DROP INDEX {name};
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("deployments", "0019_estate_terms_linear")]

    operations = [
        import_module("deployments.migrations.0017_run_count_tally").PostgresOnlyRunSQL(
            [_invalid_leftover(name), f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {TABLE} {columns};"],
            [f"DROP INDEX CONCURRENTLY IF EXISTS {name};"],
        )
        for name, columns in INDEXES.items()
    ]
