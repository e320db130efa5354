"""Audit events from any layer, recorded by the audit app.

Services in ``bundles`` and ``deployments`` record facts (a run requested, a secret revealed) by
calling :func:`record_event`; the layers point one way, so they never import ``audit``. The audit
app hands its recorder over at start-up (``AuditConfig.ready``), and the event is written in the
caller's transaction, so both land or neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_recorder: Callable[..., Any] | None = None


def set_recorder(recorder: Callable[..., Any]) -> None:
    """Called once by the audit app: ``recorder`` takes the keyword arguments of :func:`record_event`."""
    global _recorder
    _recorder = recorder


def record_event(
    *,
    event_type: str,
    actor=None,
    target=None,
    data: dict[str, Any] | None = None,
    channel: str | None = None,
    request_id: str | None = None,
):
    """Record one audit event (see ``audit.services.audit_event_record``). Fails loudly without a recorder:
    an action that should leave evidence must not happen silently."""
    if _recorder is None:
        raise ImproperlyConfigured("No audit recorder is installed: add the 'audit' app to INSTALLED_APPS.")
    return _recorder(
        event_type=event_type, actor=actor, target=target, data=data, channel=channel, request_id=request_id
    )
