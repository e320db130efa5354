from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from .models import Environment
        from .policy import default_policy_follows_tier

        post_save.connect(default_policy_follows_tier, sender=Environment, dispatch_uid="deployments.default_policy")
