"""The overview page (``/``): what is running right now and why, then the estate at a glance."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone

from .alarms.models import AlarmEvent
from .alarms.selectors import firing_events
from .choices import RUN_ACTIVE, DeploymentStatus, RunStatus
from .drift.models import DriftCheck, DriftStatus
from .environments.selectors import previews_visible_to
from .runs import services as run_services
from .runs.selectors import last_worker_seen, runs_visible_to, workers_alive
from .selectors import deployments_visible_to


@login_required
def home(request):
    """What is running, and why: active runs first, then the estate at a glance."""
    run_services.runs_reap_due()  # beat and the workers do it too; this page must not show a dead run running
    deployments = deployments_visible_to(request.user)
    # COUNT(*), not COUNT(id): the status index alone answers it (an index-only scan, not the table).
    by_status = dict(deployments.values_list("status").annotate(n=Count("*")).values_list("status", "n"))
    runs = runs_visible_to(request.user)
    # Runs the workers never picked up say more about the workers than about the runs.
    stalled = runs.filter(status=RunStatus.QUEUED, created_at__lt=timezone.now() - timedelta(minutes=2)).count()
    return render(
        request,
        "portal/home.html",
        {
            "by_status": by_status,
            "total": sum(by_status.values()),
            "active_runs": runs.filter(status__in=RUN_ACTIVE).order_by("created_at")[:20],
            "recent_runs": runs.exclude(status__in=RUN_ACTIVE).order_by("-created_at")[:10],
            "recent_deployments": deployments.order_by("-updated_at")[:8],
            "stalled": stalled,
            # Copies of environments for pull requests that still hold resources (docs/environments.md).
            "previews": previews_visible_to(request.user, include_torn_down=False),
            "workers_alive": workers_alive().count(),
            "last_worker": last_worker_seen(),
            # What changed behind Slipway's back and is not resolved yet, newest first.
            "drifts": DriftCheck.objects.visible_to(request.user)
            .filter(status=DriftStatus.DRIFTED, resolution="", deployment__status=DeploymentStatus.DRIFTED)
            .select_related("deployment__environment__project")
            .order_by("-finished_at")[:10],
            # Alarms firing now (each alarm's latest notification says firing), newest first.
            "alarms_firing": AlarmEvent.objects.visible_to(request.user)
            .filter(pk__in=firing_events().values("pk"))
            .select_related("deployment__environment__project")
            .order_by("-id")[:10],
        },
    )
