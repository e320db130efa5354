from django.contrib import admin

from portal.admin import MadeElsewhere

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(MadeElsewhere, admin.ModelAdmin):
    """Append-only: viewable, never editable or deletable."""

    list_display = ["created_at", "event_type", "actor_name", "channel", "target_type", "target_id"]
    list_filter = ["event_type", "channel"]
    search_fields = ["actor_name", "target_id", "event_type"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
