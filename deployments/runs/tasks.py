"""Celery tasks for runs, and sending them. Task names keep the ``deployments.tasks`` prefix they
were first published under, so messages already queued (and the beat schedule) still find them."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..choices import RunStatus
from ..models import Run
from . import runner

log = logging.getLogger(__name__)


@shared_task(name="deployments.tasks.execute_run", acks_late=True, ignore_result=True)
def execute_run(run_id: int) -> None:
    """Run the pipeline for one run; then send the next run queued behind it on the same deployment."""
    deployment_id = Run.objects.filter(pk=run_id).values_list("deployment_id", flat=True).first()
    try:
        runner.execute(run_id)
    finally:
        if deployment_id is not None:
            run_enqueue_next(deployment_id=deployment_id)


def run_enqueue(*, run_id: int) -> bool:
    """Send the run's task to the broker. Never raises: a run the broker did not take stays queued in
    the database and the periodic requeue sends it again, so an accepted request is never lost."""
    try:
        execute_run.apply_async(args=[run_id], retry=False)
    except Exception:  # the broker is down or unreachable
        log.warning("broker unavailable; run %s stays queued for the periodic requeue", run_id, exc_info=True)
        return False
    Run.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    return True


def run_enqueue_next(*, deployment_id) -> None:
    """Send the oldest queued run of a deployment, if any: called when whatever held it back is gone."""
    next_run = (
        Run.objects.filter(deployment_id=deployment_id, status=RunStatus.QUEUED).order_by("created_at", "id").first()
    )
    if next_run is not None:
        run_enqueue(run_id=next_run.pk)


@shared_task(name="deployments.tasks.requeue_lost_runs", ignore_result=True)
def requeue_lost_runs() -> int:
    """Send again queued runs the broker never delivered (it was down, or a message was lost).

    Claiming is conditional, so a run sent twice still executes once.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.SLIPWAY_REQUEUE_AFTER_SECONDS)
    never_sent = Q(enqueued_at__isnull=True, created_at__lt=now - timedelta(seconds=10))
    stale = Run.objects.filter(status=RunStatus.QUEUED).filter(never_sent | Q(enqueued_at__lt=cutoff))
    count = 0
    for run_id in stale.order_by("created_at").values_list("pk", flat=True)[:500]:
        count += run_enqueue(run_id=run_id)
    return count


@shared_task(name="deployments.tasks.reap_interrupted_runs", ignore_result=True)
def reap_interrupted_runs() -> int:
    """Runs whose worker died (no heartbeat) become interrupted, with the lock they left behind."""
    return len(runner.reap_interrupted(stale_after=settings.SLIPWAY_RUN_STALE_SECONDS))
