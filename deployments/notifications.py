"""Telling people what waits for them: email through Django's backend, plus an optional webhook.

Links carry ``SLIPWAY_PUBLIC_URL``. A delivery that fails never fails the request that caused it, but it
is not swallowed either: it is logged and recorded as a ``notification.failed`` audit event, which ops
see on the overview (``audit_tags.failed_notifications``).
"""

from __future__ import annotations

import json
import logging
import urllib.request

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q

from portal.events import record_event
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
    """Leave a visible trace of a notification that did not go out (never raises: it runs after commit).

    Ops read these on the overview (``audit_tags.failed_notifications``)."""
    try:
        record_event(
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


@shared_task(
    name="deployments.tasks.deliver_webhook", bind=True, ignore_result=True, max_retries=5, default_retry_delay=30
)
def deliver_webhook(self, url: str, payload: dict) -> None:
    """POST a notification to an environment's webhook; retried with a delay when the receiver fails."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # the URL is set by ops in the policy
            response.read()
    except OSError as exc:
        if self.request.retries >= self.max_retries:
            record_failure(channel="webhook", subject=payload.get("subject", ""), error=exc)
            raise
        raise self.retry(exc=exc) from exc


def tell(*, user, subject: str, body: str, path: str, event: str) -> None:
    """Notify one person (the requester of a run or an exception) by email, if they have an address."""
    notify(subject=subject, body=body, path=path, recipients=[user.email] if user and user.email else [], event=event)
