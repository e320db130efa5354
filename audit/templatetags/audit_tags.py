"""Template tags through which the audit layer adds evidence to pages of lower layers (the overview)
without those layers importing it."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

from portal.roles import is_ops

from ..models import AuditEvent
from ..selectors.history import deployment_history, history_index

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


@register.inclusion_tag("audit/_last_change.html", takes_context=True)
def last_change(context, deployment) -> dict:
    """The deployment page's "last change": who changed the configuration, when, why, key by key, and the way
    back to the configuration before it (a restore through the normal policy path)."""
    versions = [v for v in history_index(deployment) if v.kind in ("created", "configuration")][:2]
    steps = deployment_history(deployment, versions)  # only these two are read in full
    latest = steps[0] if steps else None
    before = steps[1] if len(steps) > 1 else None
    return {
        "deployment": deployment,
        "step": latest,
        "before": before if before is not None and before.restorable else None,
        "can_restore": context.get("can_change", False) and deployment.status != "destroyed",
    }


@register.inclusion_tag("audit/_recent_changes.html")
def recent_changes(deployment, count: int = 5) -> dict:
    """The deployment page's "Configuration and history" tab: its latest changes in one line each (who, when,
    why), linking to the full history where each has its diff and a way back."""
    versions = [v for v in history_index(deployment) if v.kind != "other"]
    steps = deployment_history(deployment, versions[:count])
    return {"deployment": deployment, "steps": steps, "more": max(len(versions) - count, 0)}
