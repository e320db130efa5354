"""Reads for runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..choices import RUN_EXECUTING, RunStatus
from ..models import Run, RunLogLine, StateLock, Worker

LOG_PAGE = 500
# A page shows at most this many lines of a run's log: the newest (the live tail follows on from them), or one
# window of earlier ones (``?before=``/``?after=``). The whole log is always in the plain-text download.
LOG_WINDOW = 1000


def runs_visible_to(user) -> QuerySet[Run]:
    return Run.objects.visible_to(user).select_related(
        "deployment", "deployment__environment__project", "bundle_version__bundle"
    )


def runs_count(queryset: QuerySet[Run]) -> int:
    """How many runs ``queryset`` holds: read from the tally the database keeps (migration 0017) when it
    holds every run (an unfiltered list for someone who sees everything), else counted."""
    if connection.vendor == "postgresql" and queryset.model is Run and not queryset.query.where:
        with connection.cursor() as cursor:
            # The committed tally, plus the runs this transaction added (moved into the table at its commit).
            cursor.execute(
                "SELECT sum(runs) + coalesce(nullif(current_setting('slipway.runs_added', true), ''), '0')::bigint "
                "FROM deployments_run_tally"
            )
            (count,) = cursor.fetchone()
        if count is not None:
            return int(count)
    return queryset.count()


def run_log_after(run: Run, after: int, limit: int = LOG_PAGE) -> list[RunLogLine]:
    """Log lines after cursor ``after``, in order."""
    return list(run.log_lines.filter(seq__gt=after).order_by("seq")[:limit])


@dataclass(slots=True)
class LogWindow:
    """Consecutive lines of a run's log, in order, and whether lines come before or after them."""

    lines: list[RunLogLine]
    earlier: bool = False
    later: bool = False

    @property
    def first_seq(self) -> int | None:
        return self.lines[0].seq if self.lines else None

    @property
    def last_seq(self) -> int | None:
        return self.lines[-1].seq if self.lines else None


def run_log_window(
    run: Run, *, before: int | None = None, after: int | None = None, limit: int = LOG_WINDOW
) -> LogWindow:
    """One window of ``run``'s log in one query along the ``(run, seq)`` index: the first ``limit`` lines after
    ``after``, else the last ``limit`` lines before ``before``, else the last ``limit`` lines (the tail)."""
    lines = run.log_lines.all()
    if after is not None:
        got = list(lines.filter(seq__gt=after).order_by("seq")[: limit + 1])
        return LogWindow(got[:limit], earlier=after > 0, later=len(got) > limit)
    if before is not None:
        lines = lines.filter(seq__lt=before)
    got = list(lines.order_by("-seq")[: limit + 1])
    return LogWindow(got[:limit][::-1], earlier=len(got) > limit, later=before is not None)


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
