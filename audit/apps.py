from django.apps import AppConfig

from portal.events import set_recorder


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from .services import audit_event_record  # why: imports models, allowed once the registry is ready

        set_recorder(audit_event_record)
