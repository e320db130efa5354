"""Drift pages: the deployment page's *Live* view (an htmx fragment), checking on demand, one check's page,
and revert / accept. Each writes through :mod:`.services`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal.errors import ParamsInvalid, ServiceError
from portal.querysets import CHANGE, VIEW, object_for
from portal.roles import is_ops

from ..selectors import can_change_deployment
from ..views import deployment_for
from . import services
from .models import DriftCheck
from .selectors import drift_acceptable, live_context

REASON_CHARS = 1000


@login_required
def deployment_live(request, pk):
    """The *Live* fragment: it polls itself while a check is on its way, and stops when the check ends."""
    deployment = deployment_for(request, pk)
    return render(request, "deployments/_live.html", live_context(request.user, deployment))


@login_required
@require_POST
def drift_check_now(request, pk):
    deployment = deployment_for(request, pk, CHANGE)
    try:
        services.drift_check_request(deployment=deployment, actor=request.user, channel="ui")
    except ServiceError as exc:
        messages.error(request, exc.message)
    if request.htmx:
        return render(request, "deployments/_live.html", live_context(request.user, deployment))
    return redirect(deployment.get_absolute_url() + "#live")


def check_for(request, pk, action: str = VIEW) -> DriftCheck:
    queryset = DriftCheck.objects.select_related(
        "deployment__environment__project__team", "deployment__bundle_version__bundle", "resolution_run"
    )
    return object_for(request.user, queryset, action=action, pk=pk)


@login_required
def drift_check_detail(request, pk):
    check = check_for(request, pk)
    deployment = check.deployment
    context = {
        "check": check,
        "deployment": deployment,
        "can_change": can_change_deployment(request.user, deployment),
        "acceptable": drift_acceptable(check) if check.status == "drifted" else [],
        "show_log": is_ops(request.user) or can_change_deployment(request.user, deployment),
    }
    return render(request, "deployments/drift_check.html", context)


def _resolve(request, pk, act, done: str):
    check = check_for(request, pk, CHANGE)
    reason = request.POST.get("reason", "").strip()[:REASON_CHARS]
    try:
        run = act(check=check, actor=request.user, channel="ui", reason=reason)
    except (ParamsInvalid, ServiceError) as exc:
        messages.error(request, exc.message)
        target = check.deployment.get_absolute_url() + "#live"
    else:
        messages.success(request, done.format(check=check.pk, run=run.pk))
        target = run.get_absolute_url()
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_POST
def drift_revert(request, pk):
    return _resolve(request, pk, services.drift_revert, "Reverting the drift of check #{check}: run #{run}.")


@login_required
@require_POST
def drift_accept(request, pk):
    return _resolve(request, pk, services.drift_accept, "Accepting the drift of check #{check}: run #{run}.")
