from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from .models import Environment
        from .policy import create_default_policy

        post_save.connect(create_default_policy, sender=Environment, dispatch_uid="deployments.default_policy")
