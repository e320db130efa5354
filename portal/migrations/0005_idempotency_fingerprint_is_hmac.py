# The fingerprint became a keyed HMAC (portal/idempotency.py); its help text said a plain SHA-256.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_history_audit_columns"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotencykey",
            name="fingerprint",
            field=models.CharField(
                help_text="HMAC-SHA-256, keyed with SECRET_KEY, of the request's body (and query string), to refuse a "
                "reused key; keyed, so that a body holding a secret cannot be guessed back from it.",
                max_length=64,
            ),
        ),
    ]
