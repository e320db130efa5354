"""The estate page (query every configuration you can see) and bulk changes (ops only)."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from bundles.models import BundleVersion
from portal.errors import ServiceError
from portal.inputs import shows_input_problems
from portal.querysets import CHANGE
from portal.roles import is_ops, require_ops
from portal.spreadsheets import spreadsheet_safe

from ..models import BulkChange, BulkTarget, SavedQuery
from ..selectors import deployments_visible_to
from . import bulk as bulk_services
from . import rollout
from .dimensions import param_dimensions, suggestions
from .forms import BulkChangeForm, RolloutForm
from .query import Matches, QueryError, deployments_matching, display, matched_values, row_prefetch

PAGE_SIZE = 50
CSV_LIMIT = 100_000


def _require_ops(request) -> None:
    require_ops(request.user, "Only platform ops can run bulk changes.")


def _get_bulk_for_ops(request, pk) -> BulkChange:
    _require_ops(request)
    return get_object_or_404(BulkChange.objects.select_related("target_version__bundle"), pk=pk)


def _rows(page_objects, fields: list[str]) -> list[dict]:
    needs_resources = bool(row_prefetch(fields))
    rows = []
    for deployment in page_objects:
        resources = list(deployment.state_resources.all()) if needs_resources else None
        values = matched_values(deployment, fields, resources)
        rows.append({"d": deployment, "matched": [(name, display(values[name])) for name in fields if name in values]})
    return rows


def _saved_queries(user):
    return SavedQuery.objects.visible_to(user).select_related("owner")


@login_required
def estate(request):
    text = request.GET.get("q", "").strip()
    error = None
    page = None
    fields: list[str] = []
    try:
        query, qs = deployments_matching(user=request.user, text=text)
        fields = query.fields
    except QueryError as exc:
        error, qs = exc, None
    if qs is not None and request.GET.get("format") == "csv":
        return _csv(qs, fields, text)
    if qs is not None and text:
        matches = Matches(qs, prefetch=row_prefetch(fields))
        page = Paginator(matches, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "q": text,
        "error": error,
        "page": page,
        "rows": _rows(page.object_list, fields) if page else [],
        "fields": fields,
        "saved": _saved_queries(request.user),
        "share_url": request.build_absolute_uri(reverse("deployments:estate") + "?" + urlencode({"q": text})),
        "csv_url": reverse("deployments:estate") + "?" + urlencode({"q": text, "format": "csv"}),
        "can_bulk": is_ops(request.user),
        "examples": [
            # Each of these reads the demo data (`manage.py seed_demo`: team payments, project checkout, the catalog).
            "env.tier:production status:live",
            "bundle:postgres params.storage_gb>=20",
            "team:payments -env.tier:prototype",
            "(bundle:postgres OR bundle:web-service) version<2.4.0",
            "params.high_availability:false env.tier:production",
            "status:destroyed",
            "connected_to:orders-db",
            "artifact.postgresql.specs.version:16",
        ],
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "deployments/estate.html#results", context)
    return render(request, "deployments/estate.html", context)


def _csv(qs, fields: list[str], text: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="estate.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["deployment", "id", "team", "project", "environment", "tier", "bundle", "version", "status", *fields]
    )
    needs_resources = any(f.startswith("resource.") for f in fields)
    if needs_resources:
        qs = qs.prefetch_related("state_resources")
    for d in qs[:CSV_LIMIT]:
        values = matched_values(d, fields, list(d.state_resources.all()) if needs_resources else None)
        writer.writerow(
            [
                d.name,
                d.pk,
                d.environment.project.team.slug,
                d.environment.project.slug,
                d.environment.slug,
                d.environment.tier,
                d.bundle_version.bundle.name,
                d.bundle_version.version,
                d.status,
                *[spreadsheet_safe(display(values[f])) if f in values else "" for f in fields],
            ]
        )
    return response


@login_required
def estate_suggest(request):
    """Options for the query box's datalist: whole queries completing the last term typed."""
    text = request.GET.get("q", "")
    visible = deployments_visible_to(request.user)
    options = suggestions(text, param_dimensions(deployments=visible, sample_size=200), visible)
    return render(request, "deployments/estate.html#suggestions", {"options": options})


@login_required
def estate_dimensions(request):
    """Every queryable path with its type and sample values (what feeds the autocomplete), as a page."""
    dims = param_dimensions(deployments=deployments_visible_to(request.user))
    return render(request, "deployments/estate_dimensions.html", {"dimensions": dims})


@login_required
@require_POST
def saved_query_save(request):
    name = request.POST.get("name", "").strip()[:120]
    text = request.POST.get("q", "").strip()
    if not name or not text:
        messages.error(request, "Give the query a name (and a query) to save it.")
    else:
        try:
            deployments_matching(user=request.user, text=text)
        except QueryError as exc:
            messages.error(request, f"Not saved: {exc}")
        else:
            SavedQuery.objects.update_or_create(
                owner=request.user,
                name=name,
                defaults={"query": text, "shared": request.POST.get("shared") == "1"},
            )
            messages.success(request, f"Saved “{name}”.")
    return redirect(reverse("deployments:estate") + "?" + urlencode({"q": text}))


@login_required
@require_POST
def saved_query_delete(request, pk: int):
    saved = SavedQuery.objects.actionable_by(request.user, CHANGE).filter(pk=pk).first()
    if saved is None:
        raise Http404("No such saved query of yours.")
    saved.delete()
    messages.success(request, f"Deleted “{saved.name}”.")
    return redirect("deployments:estate")


# --- Bulk changes ----------------------------------------------------------------------------


@login_required
def bulk_list(request):
    _require_ops(request)
    changes = BulkChange.objects.select_related("target_version__bundle")[:100]
    return render(request, "deployments/bulk_list.html", {"changes": changes})


@shows_input_problems
@login_required
def bulk_new(request):
    _require_ops(request)
    form = BulkChangeForm(request.POST or None, initial={"q": request.GET.get("q", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            change = bulk_services.bulk_change_create(
                title=data["title"],
                query=data["q"],
                patch=data["changes"],
                target_version=data["target_version"],
                plan=data["plan"],
                actor=request.user,
                dry_run=True,
            )
        except ServiceError as exc:
            form.add_error({"query": "q", "patch": "changes"}.get(exc.field or ""), exc.message)
        else:
            messages.success(request, f"Dry run of bulk change #{change.pk} started.")
            return redirect(change)
    return render(request, "deployments/bulk_new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_POST
def bulk_upgrade(request, version_pk: int):
    """The offer on a bundle's page: dry-run the upgrade of every deployment on an older version."""
    _require_ops(request)
    version = get_object_or_404(BundleVersion.objects.select_related("bundle"), pk=version_pk)
    try:
        change = bulk_services.bulk_upgrade_create(
            version=version, plan=request.POST.get("plan") != "0", actor=request.user, dry_run=True
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("bundles:detail", name=version.bundle.name)
    messages.success(request, f"Dry run of the upgrade to {version} started.")
    return redirect(change)


def _bulk_context(bulk: BulkChange) -> dict:
    targets = bulk.targets.select_related(
        "deployment__environment__project__team", "from_version", "plan_run", "run"
    ).order_by("verdict", "id")
    dry = rollout.dry_run_counts(bulk)
    roll = rollout.rollout_counts(bulk)
    return {
        "bulk": bulk,
        "change": bulk_services.describe_change(bulk),
        "invalid": [t for t in targets if t.verdict == BulkTarget.Verdict.INVALID],
        "risky": [t for t in targets if t.verdict == BulkTarget.Verdict.RISKY],
        "clean": [t for t in targets if t.verdict == BulkTarget.Verdict.CLEAN],
        "waiting": [t for t in targets if t.verdict in (BulkTarget.Verdict.PENDING, BulkTarget.Verdict.PLANNING)],
        "dry": dry,
        "dry_percent": round(100 * (dry["total"] - dry["pending"] - dry["planning"]) / dry["total"])
        if dry["total"]
        else 0,
        "roll": roll,
        "roll_percent": round(100 * roll["done"] / roll["eligible"]) if roll["eligible"] else 0,
        "rolled": [t for t in targets if t.rollout != BulkTarget.Rollout.SKIPPED and t.wave],
        "rollout_form": RolloutForm(initial={f: getattr(bulk, f) for f in RolloutForm.base_fields}),
        "quiet": rollout.is_quiet(bulk),
    }


@login_required
def bulk_detail(request, pk: int):
    bulk = _get_bulk_for_ops(request, pk)
    context = _bulk_context(bulk)
    if request.htmx and not request.htmx.boosted:
        response = render(request, "deployments/bulk_detail.html#progress", context)
        if not bulk.is_active:
            # One last fragment, then stop polling; the full page shows the final report.
            stop = HttpResponseStopPolling(response.content)
            stop["HX-Refresh"] = "true"
            return stop
        return response
    return render(request, "deployments/bulk_detail.html", context)


@login_required
@require_POST
def bulk_action(request, pk: int):
    bulk = _get_bulk_for_ops(request, pk)
    action = request.POST.get("action")
    try:
        if action == "dry-run":
            bulk_services.bulk_dry_run_start(bulk=bulk, actor=request.user, plan=request.POST.get("plan") == "1")
            messages.success(request, "Dry run started.")
        elif action == "rollout":
            form = RolloutForm(request.POST)
            if not form.is_valid():
                problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
                raise ServiceError(f"Check the rollout settings: {problems}")
            bulk_services.bulk_rollout_start(bulk=bulk, actor=request.user, **form.cleaned_data)
            messages.success(request, "Rollout started.")
        elif action == "cancel":
            bulk_services.bulk_cancel(bulk=bulk, actor=request.user)
            messages.success(request, "Bulk change cancelled.")
        elif action == "restart":
            restarted = rollout.bulk_kick(bulk=bulk)
            messages.success(request, "The driver was restarted." if restarted else "The driver is running.")
        else:
            messages.error(request, "Unknown action.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(bulk)
