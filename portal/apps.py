from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Accounts and teams"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers Slipway's system checks)
