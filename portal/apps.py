from django.apps import AppConfig
from simple_history.signals import pre_create_historical_record


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Accounts and teams"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers Slipway's system checks)
        from .history import complete_history_row  # why: it defines (abstract) models: registry first

        pre_create_historical_record.connect(complete_history_row, dispatch_uid="portal.complete_history_row")
