"""Run pages: a run with its log, the log tail the page polls, and the requester's actions on a run."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from portal.errors import ServiceError
from portal.querysets import CHANGE, VIEW, object_for

from ..choices import RunStatus
from ..connections.selectors import consumers
from ..costs.changes import run_cost_change
from ..models import Run
from ..selectors import can_change_deployment
from . import services
from .selectors import LOG_PAGE, LOG_WINDOW, queued_reason, run_log_after, run_log_window

RUN_RELATED = ("deployment__environment__project", "bundle_version__bundle")


def run_for(request, pk, action: str = VIEW, message: str = "") -> Run:
    """404 when the user may not see the run, 403 when they may see it but not ``action`` it."""
    return object_for(request.user, Run.objects.select_related(*RUN_RELATED), action=action, message=message, pk=pk)


def _seq_param(request, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else None


@login_required
def run_detail(request, pk):
    """A run with its log: the newest lines (the live tail follows on from them while it runs), or one window
    of earlier lines (``?before=<seq>`` or ``?after=<seq>``), each linking to the lines around it."""
    run = run_for(request, pk)
    services.runs_reap_due()  # a run whose worker died is shown interrupted even with no worker alive
    run.refresh_from_db(fields=["status", "error", "finished_at"])
    window = run_log_window(run, before=_seq_param(request, "before"), after=_seq_param(request, "after"))
    return render(
        request,
        "deployments/run.html",
        {
            "run": run,
            "waiting_reason": queued_reason(run) if run.status == RunStatus.QUEUED else "",
            "deployment": run.deployment,
            "lines": window.lines,
            "log_window": window,
            "log_window_size": LOG_WINDOW,
            "can_change": can_change_deployment(request.user, run.deployment),
            "blast_radius": consumers(run.deployment) if run.bundle_version.artifacts else [],
            "cost_change": run_cost_change(run),
        },
    )


@login_required
def run_logs(request, pk):
    """The log tail: lines after ``?after=N``. htmx polls this until the run ends (status 286).

    ``?seen=<status>`` is the status the page last showed: when the run has moved on (to planned,
    awaiting approval, applying), the ``run-changed`` event lets the page redraw what depends on it
    (the buttons, the runs table) while the tail keeps following."""
    run = run_for(request, pk)
    after_raw = request.GET.get("after", "0") or "0"
    after = int(after_raw) if after_raw.isdigit() else 0
    lines = run_log_after(run, after)
    if request.GET.get("format") == "raw":
        text = "\n".join(line.text for line in run.log_lines.order_by("seq"))
        response = HttpResponse(text + "\n", content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}.log"'
        return response
    cursor = lines[-1].seq if lines else after
    limit_reached = len(lines) >= LOG_PAGE
    finished = run.is_terminal and not limit_reached
    context = {"run": run, "lines": lines, "cursor": cursor, "polling": not finished}
    response = render(request, "deployments/run.html#log-tail", context)
    if finished:
        # 286 tells htmx to stop polling; the event lets the page refresh what the run changed.
        response = HttpResponseStopPolling(response.content)
        response["HX-Trigger"] = "run-finished"
    elif request.GET.get("seen") and request.GET["seen"] != run.status:
        response["HX-Trigger"] = "run-changed"
    return response


def _run_action(request, pk, service, done: str):
    """A developer's action on a run (cancel, apply a reviewed plan): same checks, same feedback."""
    run = run_for(request, pk, CHANGE, "You cannot act on runs of this deployment.")
    try:
        service(run=run, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, done.format(run=run))
    return redirect(run)


@login_required
@require_POST
def run_cancel(request, pk):
    return _run_action(request, pk, services.run_cancel, "Cancel requested for run #{run.pk}.")


@login_required
@require_POST
def run_apply(request, pk):
    """Confirm a reviewed plan: the worker applies exactly the plan shown."""
    return _run_action(request, pk, services.run_confirm_apply, "Applying the plan of run #{run.pk}.")
