from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render

from deployments.choices import RUN_ACTIVE
from deployments.selectors import deployments_visible_to, runs_visible_to


@login_required
def home(request):
    """What is running, and why: active runs first, then the estate at a glance."""
    deployments = deployments_visible_to(request.user)
    by_status = dict(deployments.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    runs = runs_visible_to(request.user)
    return render(
        request,
        "portal/home.html",
        {
            "by_status": by_status,
            "total": sum(by_status.values()),
            "active_runs": runs.filter(status__in=RUN_ACTIVE).order_by("created_at")[:20],
            "recent_runs": runs.exclude(status__in=RUN_ACTIVE).order_by("-created_at")[:10],
            "recent_deployments": deployments.order_by("-updated_at")[:8],
        },
    )


def healthz(request):
    """Liveness for load balancers and compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
