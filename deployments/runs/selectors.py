"""Reads for runs."""

from __future__ import annotations

from django.db.models import QuerySet

from ..models import Run, RunLogLine

LOG_PAGE = 500


def runs_visible_to(user) -> QuerySet[Run]:
    return Run.objects.visible_to(user).select_related(
        "deployment", "deployment__environment__project", "bundle_version__bundle"
    )


def run_log_after(run: Run, after: int, limit: int = LOG_PAGE) -> list[RunLogLine]:
    """Log lines after cursor ``after``, in order."""
    return list(run.log_lines.filter(seq__gt=after).order_by("seq")[:limit])
