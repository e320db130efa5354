"""Template tags through which the audit layer adds evidence to pages of lower layers (the overview)
without those layers importing it."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

from portal.roles import is_ops

from ..models import AuditEvent

register = template.Library()

NOTIFICATION_FAILED = "notification.failed"


@register.simple_tag
def failed_notifications(user, hours: int = 24) -> list[AuditEvent]:
    """Notifications that failed lately, newest first, for ops only (the overview warns them)."""
    if not is_ops(user):
        return []
    since = timezone.now() - timedelta(hours=hours)
    events = AuditEvent.objects.filter(event_type=NOTIFICATION_FAILED, created_at__gte=since)
    return list(events.order_by("-created_at")[:100])
