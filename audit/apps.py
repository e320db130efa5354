from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from simple_history.signals import pre_create_historical_record

        from .history import complete_change_reason, refuse_admin_revert

        pre_create_historical_record.connect(complete_change_reason, dispatch_uid="audit.complete_change_reason")
        refuse_admin_revert()
