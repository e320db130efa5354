from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bundles", "0005_bundleversion_cost"),
    ]

    operations = [
        migrations.AddField(
            model_name=model,
            name="alarms",
            field=models.JSONField(
                blank=True, default=list, help_text="The alarms the bundle declares (bundle.yaml `alarms:`)."
            ),
        )
        for model in ("bundleversion", "historicalbundleversion")
    ]
