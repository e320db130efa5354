"""Exceptions and approvals: the ops queue, its backlog counts, and the decisions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from bundles.display import params_rows
from portal.roles import is_ops

from . import services
from .choices import RunStatus
from .forms import DecisionForm
from .models import ExceptionRequest
from .selectors import exceptions_visible_to, runs_visible_to
from .services import ServiceError


@login_required
def exception_queue(request):
    """Pending exceptions and held plans first; then what is asked for most (the ops team's backlog)."""
    visible = exceptions_visible_to(request.user)
    pending = visible.filter(status=ExceptionRequest.Status.PENDING).select_related(
        "environment__project", "bundle_version__bundle"
    )
    field_counts: dict[tuple[str, str], int] = {}
    for bundle, fields in visible.values_list("bundle_version__bundle__name", "fields"):
        for name in fields or ["(bundle not allowed)"]:
            field_counts[(bundle, name)] = field_counts.get((bundle, name), 0) + 1
    context = {
        "pending": pending.order_by("created_at"),
        "held_runs": runs_visible_to(request.user).filter(status=RunStatus.AWAITING_APPROVAL).order_by("created_at"),
        "by_bundle": visible.values("bundle_version__bundle__name").annotate(n=Count("pk")).order_by("-n")[:10],
        "by_field": sorted(field_counts.items(), key=lambda item: (-item[1], item[0]))[:15],
        "decided": visible.exclude(status=ExceptionRequest.Status.PENDING).order_by("-decided_at")[:20],
        "is_ops": is_ops(request.user),
    }
    return render(request, "deployments/exceptions.html", context)


def _get_exception_for_user(request, pk) -> ExceptionRequest:
    found = exceptions_visible_to(request.user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such exception request.")
    return found


@login_required
def exception_detail(request, pk):
    exception = _get_exception_for_user(request, pk)
    version = exception.bundle_version
    current = params_rows(version.params_schema, exception.deployment.params) if exception.deployment else []
    now = {row.pointer: row.value for row in current}
    # Each requested value beside the deployment's value now (blank for a new deployment).
    rows = [
        (row, now.get(row.pointer, ""))
        for row in params_rows(version.params_schema, exception.params, exception.violations)
    ]
    return render(
        request,
        "deployments/exception.html",
        {
            "exception": exception,
            "rows": rows,
            "form": DecisionForm(),
            "is_ops": is_ops(request.user),
        },
    )


@login_required
@require_POST
def exception_decide(request, pk):
    exception = _get_exception_for_user(request, pk)
    if not is_ops(request.user):
        raise PermissionDenied("Only platform ops decide exceptions.")
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect(exception)
    comment = form.cleaned_data["comment"]
    try:
        if form.cleaned_data["decision"] == "approve":
            run = services.exception_approve(request=exception, actor=request.user, comment=comment)
            messages.success(request, f"Exception #{exception.pk} approved: run #{run.pk} is on its way.")
            return redirect(run)
        services.exception_reject(request=exception, actor=request.user, comment=comment)
        messages.info(request, f"Exception #{exception.pk} rejected; {exception.requested_by_name} will see why.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(exception)


@login_required
@require_POST
def run_decide(request, pk):
    """Ops approve or reject a plan the environment's policy held back."""
    run = runs_visible_to(request.user).filter(pk=pk).first()
    if run is None:
        raise Http404("No such run.")
    if not is_ops(request.user):
        raise PermissionDenied("Only platform ops approve held plans.")
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect(run)
    try:
        if form.cleaned_data["decision"] == "approve":
            services.run_approve(run=run, actor=request.user, comment=form.cleaned_data["comment"])
            messages.success(request, f"Run #{run.pk} approved; it applies now.")
        else:
            services.run_reject(run=run, actor=request.user, comment=form.cleaned_data["comment"])
            messages.info(request, f"Run #{run.pk} rejected.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(run)
