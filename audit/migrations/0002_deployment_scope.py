import django.db.models.deletion
from django.db import migrations, models


def link_events_to_deployments(apps, schema_editor):
    """Events written before the column existed name their deployment in target_id."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    Deployment = apps.get_model("deployments", "Deployment")
    known = {str(pk) for pk in Deployment.objects.values_list("pk", flat=True)}
    for event in AuditEvent.objects.filter(target_type="deployments.deployment", deployment__isnull=True):
        if event.target_id in known:
            AuditEvent.objects.filter(pk=event.pk).update(deployment_id=event.target_id)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("deployments", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="deployment",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="deployments.deployment",
            ),
        ),
        migrations.RunPython(link_events_to_deployments, migrations.RunPython.noop),
    ]
