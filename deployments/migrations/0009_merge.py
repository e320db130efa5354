from django.db import migrations


class Migration(migrations.Migration):
    """Joins the migrations of work done side by side: case-insensitive names, drift checks, the worker
    record and append-only run evidence, connections and artifacts. None of them touch the same columns."""

    dependencies = [
        ("deployments", "0007_connections_and_artifacts"),
        ("deployments", "0007_deployment_name_case_insensitive"),
        ("deployments", "0007_drift_check"),
        ("deployments", "0008_run_evidence_append_only"),
    ]

    operations = []
