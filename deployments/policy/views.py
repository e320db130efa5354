"""Exceptions and approvals: the ops queue, its backlog counts, and the decisions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from bundles.display import params_rows
from portal.errors import ServiceError
from portal.querysets import OPERATE, VIEW, object_for
from portal.roles import is_ops

from ..choices import RunStatus
from ..costs.changes import exception_cost_change, run_cost_change
from ..forms import DecisionForm, ExceptionDecisionForm
from ..models import Deployment, ExceptionRequest
from ..runs.selectors import runs_visible_to
from ..runs.views import run_for
from . import services
from .selectors import EXCEPTION_RELATED, exceptions_visible_to


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
    pending = list(pending.order_by("created_at"))
    held_runs = list(runs_visible_to(request.user).filter(status=RunStatus.AWAITING_APPROVAL).order_by("created_at"))
    for item in pending:
        item.cost_change = exception_cost_change(item)
    for run in held_runs:
        run.cost_change = run_cost_change(run)
    context = {
        "pending": pending,
        "held_runs": held_runs,
        "by_bundle": visible.values("bundle_version__bundle__name").annotate(n=Count("pk")).order_by("-n")[:10],
        "by_field": sorted(field_counts.items(), key=lambda item: (-item[1], item[0]))[:15],
        "decided": visible.exclude(status=ExceptionRequest.Status.PENDING).order_by("-decided_at")[:20],
        "is_ops": is_ops(request.user),
    }
    return render(request, "deployments/exceptions.html", context)


def exception_for(request, pk, action: str = VIEW, message: str = "") -> ExceptionRequest:
    queryset = ExceptionRequest.objects.select_related(*EXCEPTION_RELATED)
    return object_for(request.user, queryset, action=action, message=message, pk=pk)


@login_required
def exception_detail(request, pk):
    exception = exception_for(request, pk)
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
            "cost_change": exception_cost_change(exception),
            "whole_violations": (exception.violations or {}).get("", []),  # the bundle not allowed, the budget
            "asked_connections": _asked_connections(exception),
            "form": ExceptionDecisionForm(),
            "is_ops": is_ops(request.user),
        },
    )


def _asked_connections(exception) -> list[tuple[str, str, str]]:
    """(connection, producer asked for, producer now) for the connections the request makes (a promotion's)."""
    asked = exception.connections or {}
    if not asked:
        return []
    held = (exception.deployment.connections or {}) if exception.deployment else {}
    ids = {v for v in [*asked.values(), *held.values()] if v}
    names = {str(pk): name for pk, name in Deployment.objects.filter(pk__in=ids).values_list("pk", "name")}
    titles = {c["name"]: c.get("title") or c["name"] for c in exception.bundle_version.connections}
    return [
        (titles.get(n, n), names.get(p, "not connected"), names.get(held.get(n, ""), "not connected"))
        for n, p in sorted(asked.items())
    ]


@dataclass(frozen=True)
class _Decision:
    """How a page decides one kind of thing: the services, and what to say after ({target}, {run})."""

    approve: Callable
    reject: Callable
    approved: str
    rejected: str
    form: type[DecisionForm] = DecisionForm


EXCEPTION = _Decision(
    approve=lambda target, **kw: services.exception_approve(request=target, **kw),
    reject=lambda target, **kw: services.exception_reject(request=target, **kw),
    approved="Exception #{target.pk} approved: run #{run.pk} is on its way.",
    rejected="Exception #{target.pk} rejected; {target.requested_by_name} will see why.",
    form=ExceptionDecisionForm,
)
HELD_PLAN = _Decision(
    approve=lambda target, **kw: services.run_approve(run=target, **kw),
    reject=lambda target, **kw: services.run_reject(run=target, **kw),
    approved="Run #{run.pk} approved; it applies now.",
    rejected="Run #{target.pk} rejected.",
)


def _decide(request, target, decision: _Decision):
    """An ops decision from a page (approve or reject, with a comment), for exceptions and held plans alike."""
    form = decision.form(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect(target)
    comment = form.cleaned_data["comment"]
    try:
        if form.cleaned_data["decision"] == "approve":
            run = decision.approve(target, actor=request.user, comment=comment, **form.approve_options())
            messages.success(request, decision.approved.format(target=target, run=run))
            return redirect(run)
        decision.reject(target, actor=request.user, comment=comment)
        messages.info(request, decision.rejected.format(target=target))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(target)


@login_required
@require_POST
def exception_decide(request, pk):
    return _decide(request, exception_for(request, pk, OPERATE, "Only platform ops decide exceptions."), EXCEPTION)


@login_required
@require_POST
def run_decide(request, pk):
    """Ops approve or reject a plan the environment's policy held back."""
    return _decide(request, run_for(request, pk, OPERATE, "Only platform ops approve held plans."), HELD_PLAN)
