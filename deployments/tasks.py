"""Celery tasks: thin doors into the runner and the services."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import runner
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
