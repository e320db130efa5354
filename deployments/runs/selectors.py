"""Reads for runs."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..choices import RUN_EXECUTING, RunStatus
from ..models import Run, RunLogLine, StateLock, Worker

LOG_PAGE = 500


def runs_visible_to(user) -> QuerySet[Run]:
    return Run.objects.visible_to(user).select_related(
        "deployment", "deployment__environment__project", "bundle_version__bundle"
    )


def run_log_after(run: Run, after: int, limit: int = LOG_PAGE) -> list[RunLogLine]:
    """Log lines after cursor ``after``, in order."""
    return list(run.log_lines.filter(seq__gt=after).order_by("seq")[:limit])


def workers_alive() -> QuerySet[Worker]:
    """Workers whose main process said it was alive within the stale limit."""
    cutoff = timezone.now() - timedelta(seconds=settings.SLIPWAY_RUN_STALE_SECONDS)
    return Worker.objects.filter(seen_at__gte=cutoff)


def last_worker_seen() -> Worker | None:
    return Worker.objects.order_by("-seen_at").first()


def queued_reason(run: Run) -> str:
    """Why a queued run has not started, in one sentence: a lock, a run ahead of it, or the workers."""
    lock = StateLock.objects.filter(deployment_id=run.deployment_id).select_related("run").first()
    if lock is not None and (lock.run is None or lock.run.status not in RUN_EXECUTING):
        holder = f"run #{lock.run_id}" if lock.run_id else "an earlier operation"
        return (
            f"Waiting for an unlock: the state is still locked by {holder}, which did not finish. "
            "An ops admin can force-unlock it on the deployment page once the resources are checked."
        )
    ahead = (
        Run.objects.filter(deployment_id=run.deployment_id)
        .filter(Q(status__in=RUN_EXECUTING) | Q(status=RunStatus.QUEUED, created_at__lt=run.created_at))
        .order_by("created_at")
        .first()
    )
    if ahead is not None:
        return f"Waiting behind run #{ahead.pk} ({ahead.get_status_display().lower()}) on this deployment."
    if not workers_alive().exists():
        return "Waiting for a worker: none is running, so nothing picks this run up until one starts."
    return "Waiting for a worker to pick this run up…"
