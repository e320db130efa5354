"""Resource types' history is evidence too: the same append-only trigger as 0003 on the table that
``bundles/0004_resource_types`` created after 0003 ran."""

from django.db import migrations

TABLE, USER_COLUMN = "bundles_historicalresourcetype", "history_user_id"


def _sql():
    from importlib import import_module

    append_only = import_module("audit.migrations.0003_append_only")
    name = f"{TABLE}_append_only"
    forwards = (
        f"CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION slipway_append_only('{USER_COLUMN}');"
    )
    return append_only.PostgresOnlyRunSQL([forwards], [f"DROP TRIGGER IF EXISTS {name} ON {TABLE};"])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_history_columns_from_reasons"),
        ("bundles", "0004_resource_types"),
    ]

    operations = [_sql()]
