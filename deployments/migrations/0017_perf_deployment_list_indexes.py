"""The deployments list's indexes (issue 18): a trigram index on the names (PostgreSQL; elsewhere none),
which the search (``name contains``) reads instead of every deployment; and the default order's index
with the id, from which a page far down the list reads its keys alone; and one on the status, from which
the overview counts deployments by status."""

from django.db import migrations, models

INDEX = "deployment_name_trgm"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Django's icontains reads UPPER("name"::text) LIKE UPPER(%s): the index is on that expression.
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON deployments_deployment USING gin (UPPER(name::text) gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("deployments", "0016_merge_round_three")]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RemoveIndex(model_name="deployment", name="deployment_updated_newest"),
        migrations.AddIndex(
            model_name="deployment",
            index=models.Index(fields=["-updated_at", "-id"], name="deployment_updated_id_newest"),
        ),
        migrations.AddIndex(model_name="deployment", index=models.Index(fields=["status"], name="deployment_status")),
    ]
