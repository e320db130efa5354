"""The one way to record an audit event."""

from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditEvent, Channel


def actor_label(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "system"
    return actor.get_username()


def audit_event_record(
    *,
    event_type: str,
    actor=None,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    channel: str = Channel.SYSTEM,
    request_id: str = "",
) -> AuditEvent:
    """Write one audit event. Call it inside the service's transaction so both land or neither."""
    return AuditEvent.objects.create(
        event_type=event_type,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=actor_label(actor),
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
        channel=channel,
        request_id=request_id,
    )
