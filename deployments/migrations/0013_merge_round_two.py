# Joins the migrations this round's branches added side by side (drift evidence, environment runs,
# exception expiry, costs and budgets).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0010_drift_check_append_only"),
        ("deployments", "0010_environment_runs"),
        ("deployments", "0010_exception_expiry"),
        ("deployments", "0012_policy_monthly_budget"),
    ]

    operations = []
