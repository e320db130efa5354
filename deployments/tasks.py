"""Celery tasks: thin doors into the runner and the services."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import runner
from .bulk import drive_bulk_change, kick_bulk_changes  # noqa: F401  (registered here, so every worker and beat knows them)
from .choices import RunStatus
from .models import Run


@shared_task(acks_late=True, ignore_result=True)
def execute_run(run_id: int) -> None:
    runner.execute(run_id)


@shared_task(ignore_result=True)
def requeue_lost_runs() -> int:
    """Send again queued runs the broker never delivered (it was down, or a message was lost).

    Claiming is conditional, so a run sent twice still executes once.
    """
    from .services import run_enqueue

    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.SLIPWAY_REQUEUE_AFTER_SECONDS)
    never_sent = Q(enqueued_at__isnull=True, created_at__lt=now - timedelta(seconds=10))
    stale = Run.objects.filter(status=RunStatus.QUEUED).filter(never_sent | Q(enqueued_at__lt=cutoff))
    count = 0
    for run_id in stale.order_by("created_at").values_list("pk", flat=True)[:500]:
        count += run_enqueue(run_id=run_id)
    return count


@shared_task(ignore_result=True)
def reap_interrupted_runs() -> int:
    """Runs whose worker died (no heartbeat) become interrupted, with the lock they left behind."""
    return len(runner.reap_interrupted(stale_after=settings.SLIPWAY_RUN_STALE_SECONDS))


@shared_task(bind=True, ignore_result=True, max_retries=5, default_retry_delay=30)
def deliver_webhook(self, url: str, payload: dict) -> None:
    """POST a notification to an environment's webhook; retried with a delay when the receiver fails."""
    import json
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # the URL is set by ops in the policy
            response.read()
    except OSError as exc:
        if self.request.retries >= self.max_retries:
            from .notifications import record_failure

            record_failure(channel="webhook", subject=payload.get("subject", ""), error=exc)
            raise
        raise self.retry(exc=exc) from exc
