"""Deployment names unique case-insensitively within an environment (issue 11, item 12).

An estate that already holds names differing only in case (``ABC`` and ``abc`` in one environment)
is not refused: the migration lists each clash and what to do, and leaves the index out until they
are renamed. The services refuse new clashes either way. Once renamed, add the index with
``manage.py migrate deployments 0006 && manage.py migrate``.
"""

import sys

from django.db import migrations, models
from django.db.models.functions import Lower

CONSTRAINT = models.UniqueConstraint(
    "environment", Lower("name"), name="deployment_unique_name_ci", violation_error_code="name_taken"
)


def clashes(apps) -> list[str]:
    Deployment = apps.get_model("deployments", "Deployment")
    groups: dict[tuple, list[str]] = {}
    for environment_id, name in Deployment.objects.values_list("environment_id", "name").order_by("name"):
        groups.setdefault((environment_id, name.lower()), []).append(name)
    return [f"environment {env}: {', '.join(names)}" for (env, _), names in sorted(groups.items()) if len(names) > 1]


def add_index(apps, schema_editor):
    found = clashes(apps)
    if found:
        sys.stderr.write(
            "\nDeployment names that differ only in case share an environment, so the case-insensitive "
            "unique index was NOT added (new clashes are refused all the same):\n  "
            + "\n  ".join(found)
            + "\nRename one of each (a new deployment, then destroy the old one), then run "
            "`manage.py migrate deployments 0006 && manage.py migrate`.\n"
        )
        return
    schema_editor.add_constraint(apps.get_model("deployments", "Deployment"), CONSTRAINT)


def drop_index(apps, schema_editor):
    Deployment = apps.get_model("deployments", "Deployment")
    with schema_editor.connection.cursor() as cursor:
        existing = schema_editor.connection.introspection.get_constraints(cursor, Deployment._meta.db_table)
    if CONSTRAINT.name in existing:
        schema_editor.remove_constraint(Deployment, CONSTRAINT)


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0006_history_audit_columns"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddConstraint(model_name="deployment", constraint=CONSTRAINT)],
            database_operations=[migrations.RunPython(add_index, drop_index)],
        ),
    ]
