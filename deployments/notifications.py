"""Telling people what waits for them: email through Django's backend, plus an optional webhook.

Links carry ``SLIPWAY_PUBLIC_URL``. A delivery that fails never fails the request that caused it, but it
is not swallowed either: it is logged and recorded as a ``notification.failed`` audit event, which ops
see on the overview (:func:`recent_failures`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.roles import OPS_GROUP

log = logging.getLogger(__name__)


def absolute(path: str) -> str:
    return settings.SLIPWAY_PUBLIC_URL.rstrip("/") + path


def ops_emails() -> list[str]:
    users = get_user_model().objects.filter(Q(groups__name=OPS_GROUP) | Q(is_superuser=True), is_active=True)
    return sorted({u.email for u in users if u.email})


def notify(*, subject: str, body: str, path: str, recipients: list[str], webhook_url: str = "", event: str) -> None:
    """Queue an email (and a webhook call) once the current transaction commits; never fails the caller."""
    link = absolute(path)
    text = f"{body}\n\nOpen: {link}\n"

    def deliver():
        from .tasks import deliver_webhook

        if recipients:
            try:
                send_mail(f"[Slipway] {subject}", text, settings.DEFAULT_FROM_EMAIL, recipients)
            except Exception as exc:  # a mail outage must not undo the request
                log.exception("could not send %r", subject)
                record_failure(channel="email", subject=subject, error=exc, recipients=len(recipients))
        if webhook_url:
            try:
                deliver_webhook.delay(webhook_url, {"event": event, "subject": subject, "text": body, "url": link})
            except Exception as exc:
                log.exception("could not queue the webhook for %r", subject)
                record_failure(channel="webhook", subject=subject, error=exc)

    transaction.on_commit(deliver)


FAILED = "notification.failed"


def record_failure(*, channel: str, subject: str, error: BaseException, recipients: int = 0) -> None:
    """Leave a visible trace of a notification that did not go out (never raises: it runs after commit)."""
    from audit.services import audit_event_record

    try:
        audit_event_record(
            event_type=FAILED,
            data={
                "channel": channel,
                "subject": subject,
                "recipients": recipients,
                "error": f"{type(error).__name__}: {error}"[:500],
            },
        )
    except Exception:  # the database may be what failed; the log line above still tells
        log.exception("could not record the failed %s notification %r", channel, subject)


def recent_failures(hours: int = 24):
    """Notifications that failed lately, newest first (the overview warns ops about them)."""
    from audit.models import AuditEvent

    since = timezone.now() - timedelta(hours=hours)
    return AuditEvent.objects.filter(event_type=FAILED, created_at__gte=since).order_by("-created_at")
