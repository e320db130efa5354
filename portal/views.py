from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils import timezone

from deployments import notifications
from deployments.choices import RUN_ACTIVE, RunStatus
from deployments.selectors import deployments_visible_to, runs_visible_to

from . import health
from .models import APIToken
from .roles import is_ops


@login_required
def home(request):
    """What is running, and why: active runs first, then the estate at a glance."""
    deployments = deployments_visible_to(request.user)
    by_status = dict(deployments.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
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
            # Ops learn here that email (or a webhook) is not getting through, instead of never.
            "failed_notifications": list(notifications.recent_failures()[:100]) if is_ops(request.user) else None,
        },
    )


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; send them to the icon."""
    return HttpResponsePermanentRedirect(static("slipway.svg"))


def healthz(request):
    """Readiness for load balancers and compose: the database and the broker answer.

    503 names what is down, so a probe, an operator or a test sees a broker outage instead of a
    cheerful 200 (signing in and browsing still work meanwhile; runs wait in the database).
    """
    checks = {"database": health.database_problem() or "ok", "broker": health.broker_problem() or "ok"}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"ok": healthy, **checks}, status=200 if healthy else 503)


@login_required
def api_tokens(request):
    """A user's own API tokens: create one (its key is shown once), see when each was last used, revoke."""
    if request.method == "POST":
        if "revoke" in request.POST:
            token = get_object_or_404(APIToken, pk=request.POST["revoke"], user=request.user)
            token.revoke()
            messages.info(request, f"Token {token.name} revoked.")
            return redirect("api-tokens")
        name = (request.POST.get("name") or "").strip()[:100]
        if not name:
            messages.error(request, "Give the token a name, e.g. ci-pipeline.")
            return redirect("api-tokens")
        _, key = APIToken.issue(user=request.user, name=name)
        # Shown on the next page view only: a reload must not mint another token.
        request.session["new_api_token"] = key
        return redirect("api-tokens")
    return render(
        request,
        "portal/tokens.html",
        {"tokens": APIToken.objects.filter(user=request.user), "new_key": request.session.pop("new_api_token", None)},
    )
