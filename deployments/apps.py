from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"

    def ready(self) -> None:
        from . import wiring  # why: it imports models, which Django allows only once the registry is ready

        wiring.connect()
