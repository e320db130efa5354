"""Reviewer pages: timeline, estate as of T, estate diff, exports; a deployment's history and restore.

Every page here only reads, except ``deployment_restore``, which goes through the same service
as any change. Access: :mod:`audit.access`.
"""

from __future__ import annotations

import dataclasses

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render

from deployments.models import Deployment, Environment
from deployments.selectors import can_change_deployment
from portal.errors import ParamsInvalid, ServiceError

from . import export, services
from .access import deployment_for_history, require_reviewer
from .forms import AsOfForm, DiffForm, TimelineForm
from .models import AuditEvent
from .selectors import (
    DeploymentStatus,
    TimelineEntry,
    TimelineRows,
    config_change,
    deployment_history,
    estate_as_of,
    estate_diff,
    history_index,
    params_summary,
    timeline,
)


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return query.urlencode()


TIMELINE_PAGE = 50


def _page_number(raw) -> int:
    """The page asked for (anything unreadable, zero or less is the first page: the last would need the
    whole count, which the timeline no longer takes)."""
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


@login_required
def timeline_view(request):
    require_reviewer(request.user)
    form = TimelineForm(request.GET or None)
    fmt = request.GET.get("format")
    if form.is_bound and not form.is_valid():
        # A filter that cannot be read lists nothing: evidence "filtered" by half the filters misleads.
        if fmt in ("csv", "json"):
            problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
            return HttpResponseBadRequest(f"Fix the filters: {problems}\n", content_type="text/plain")
        context = {"form": form, "page": None, "entries": [], "invalid": True, "query": _query_without_page(request)}
        return render(request, "audit/timeline.html", context, status=400)
    filters = form.filters() if form.is_bound else TimelineForm().filters()
    qs = timeline(filters)
    if fmt in ("csv", "json"):
        head = {"export": "timeline", "filters": {k: v for k, v in request.GET.items() if k != "format"}}
        return export.stream(
            stem="timeline",
            fmt=fmt,
            rows=export.timeline_rows(qs),
            fields=export.TIMELINE_FIELDS,
            head=head,
            start=filters.start,
            end=filters.end,
        )
    # Only as far as the page asked for: each part's newest rows, a count that stops past them (TimelineRows).
    number = _page_number(request.GET.get("page"))
    page = Paginator(TimelineRows(filters, reach=number * TIMELINE_PAGE), TIMELINE_PAGE).get_page(number)
    entries = [TimelineEntry.from_row(row) for row in page.object_list]
    context = {"form": form, "page": page, "entries": entries, "query": _query_without_page(request)}
    return render(request, "audit/timeline.html", context)


@login_required
def event_detail(request, pk: int):
    require_reviewer(request.user)
    event = get_object_or_404(AuditEvent.objects.select_related("deployment"), pk=pk)
    deployment = _event_deployment(event)
    data = event.data if isinstance(event.data, dict) else {}
    run_id, env_run_id = data.get("run"), data.get("environment_run")
    related = AuditEvent.objects.filter(request_id=event.request_id).exclude(pk=event.pk) if event.request_id else []
    context = {
        "event": event,
        "deployment": deployment,
        "run_id": run_id,
        "env_run_id": env_run_id if isinstance(env_run_id, int) else None,
        "environment": _event_environment(event),
        "related": related,
    }
    return render(request, "audit/event.html", context)


@login_required
def config_detail(request, model: str, history_id: int):
    """One change to a team, membership, project, environment, policy or bundle, field by field."""
    require_reviewer(request.user)
    change = config_change(model, history_id)
    if change is None:
        raise Http404("No such change.")
    return render(request, "audit/config.html", {"change": change})


def _event_environment(event: AuditEvent) -> Environment | None:
    """The environment an environment-wide event is about (deploy-all, teardown)."""
    if event.target_type != "deployments.environment" or not event.target_id.isdigit():
        return None
    return Environment.objects.filter(pk=int(event.target_id)).select_related("project").first()


def _event_deployment(event: AuditEvent) -> Deployment | None:
    if event.deployment_id is None:
        return None
    return Deployment.objects.filter(pk=event.deployment_id).select_related("environment__project").first()


@login_required
def as_of_view(request):
    require_reviewer(request.user)
    form = AsOfForm(request.GET or None)
    when = form.when() if form.is_bound else AsOfForm().when()
    filters = form.filters() if form.is_bound else AsOfForm().filters()
    if request.GET.get("format") in ("csv", "json"):
        head = {"export": "as-of", "at": when, "filters": dataclasses.asdict(filters)}
        return export.stream(
            stem="as-of",
            fmt=request.GET["format"],
            rows=export.as_of_rows(estate_as_of(when, filters)),
            fields=export.AS_OF_FIELDS,
            head=head,
            start=when,
            end=when,
        )
    page = Paginator(estate_as_of(when, filters), 100).get_page(request.GET.get("page"))
    rows = [{"row": row, "summary": params_summary(row.params)} for row in page.object_list]
    context = {"form": form, "when": when, "page": page, "rows": rows, "query": _query_without_page(request)}
    return render(request, "audit/as_of.html", context)


@login_required
def diff_view(request):
    require_reviewer(request.user)
    form = DiffForm(request.GET or None)
    start, end = form.window() if form.is_bound else DiffForm().window()
    filters = form.filters() if form.is_bound else DiffForm().filters()
    fmt = request.GET.get("format")
    diff = estate_diff(start, end, filters, runs=fmt in ("csv", "json"))  # (an export shows every entry's runs)
    if fmt in ("csv", "json"):
        head = {"export": "diff", "from": start, "to": end, "counts": diff.counts()}
        rows = export.diff_rows(diff) if fmt == "csv" else (entry.as_dict() for entry in diff.entries)
        return export.stream(
            stem="diff", fmt=fmt, rows=rows, fields=export.DIFF_FIELDS, head=head, start=start, end=end
        )
    kind = request.GET.get("kind", "")
    entries = [e for e in diff.entries if not kind or e.kind == kind or (kind == "unapproved" and e.unapproved)]
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    diff.load_runs(page.object_list)  # the runs of the entries shown (the counts need none)
    context = {
        "form": form,
        "start": start,
        "end": end,
        "counts": diff.counts(),
        "page": page,
        "kind": kind,
        "query": _query_without_page(request),
    }
    return render(request, "audit/diff.html", context)


HISTORY_PAGE = 50  # versions per page of a deployment's history, newest first


def _history_query(request, show_all: bool) -> str:
    """The history page's query for its pager: ``all=1`` when it shows every version, never ``entry``."""
    return "all=1" if show_all else ""


@login_required
def deployment_history_view(request, pk):
    deployment = deployment_for_history(request.user, pk)
    versions = history_index(deployment)
    show_all = request.GET.get("all") == "1"
    # ?entry=<history id> (the timeline's and as-of's links, with #h<id>): the page that shows that version.
    entry = request.GET.get("entry", "")
    wanted = next((v for v in versions if entry.isascii() and entry.isdigit() and str(v.history_id) == entry), None)
    show_all = show_all or (wanted is not None and wanted.kind == "other")
    visible = versions if show_all else [v for v in versions if v.kind != "other"]
    number = visible.index(wanted) // HISTORY_PAGE + 1 if wanted is not None else request.GET.get("page")
    page = Paginator(visible, HISTORY_PAGE).get_page(number)
    context = {
        "deployment": deployment,
        "steps": deployment_history(deployment, list(page.object_list)),  # only this page's versions, in full
        "page": page,
        "query": _history_query(request, show_all),
        "hidden": len(versions) - len(visible),
        "show_all": show_all,
        "can_restore": can_change_deployment(request.user, deployment)
        and deployment.status not in (DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED),
    }
    return render(request, "audit/deployment_history.html", context)


@login_required
def deployment_restore(request, pk, history_id: int):
    """GET: what the restore would change (and what would refuse it), before anything runs. POST: restore."""
    deployment = deployment_for_history(request.user, pk, write=True)
    if request.method != "POST":
        try:
            preview = services.restore_preview(deployment=deployment, history_id=history_id)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("audit:deployment-history", pk=deployment.pk)
        return render(request, "audit/restore.html", {"deployment": deployment, **preview})
    try:
        run = services.deployment_restore(
            deployment=deployment,
            history_id=history_id,
            actor=request.user,
            reason=request.POST.get("reason", "").strip()[:500],
            auto_apply=request.POST.get("review_first") != "on",
        )
    except ParamsInvalid as exc:
        problems = "; ".join(f"{pointer or '/'}: {', '.join(m)}" for pointer, m in exc.errors.items())
        messages.error(request, f"That configuration is not valid any more: {problems}")
        return redirect("audit:deployment-history", pk=deployment.pk)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("audit:deployment-history", pk=deployment.pk)
    messages.success(request, f"Restoring the configuration of entry #{history_id}: run #{run.pk} queued.")
    return redirect(run if not run.auto_apply else deployment)
