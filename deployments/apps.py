from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"
    # Encrypted columns (portal.crypto): the start-up key check and rotate_encryption_key read this list.
    encrypted_fields = (
        "Deployment.sensitive_params",
        "Deployment.sensitive_outputs",
        "Run.sensitive_params",
        "Run.plan_file",
        "StateVersion.encrypted_state",
        "ExceptionRequest.sensitive_params",
    )

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from .models import Environment
        from .policy import default_policy_follows_tier

        post_save.connect(default_policy_follows_tier, sender=Environment, dispatch_uid="deployments.default_policy")
