"""The sandbox console: the cloud's own web console, where a person lists, modifies and deletes
resources by hand, behind Slipway's back, as they would in AWS's console. It calls the same
services as the API, and records its changes as ``console: <user>``."""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services
from .errors import NotFound, SandboxError
from .forms import DeleteForm, ResourceEditForm
from .kinds import KINDS
from .models import Delivery, Resource, Status


def _actor(request) -> str:
    return f"console: {request.user.get_username()}"


def _resource_or_404(resource_id: str):
    try:
        return selectors.resource(resource_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def console(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in KINDS else ""
    query = request.GET.get("q", "").strip()[:100].replace("\x00", "")
    found = selectors.resources(kind=kind, q=query)
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    rows = [(r, [(r.spec.field(n), r.attributes.get(n)) for n in r.spec.summary]) for r in page.object_list]
    return render(
        request,
        "sandbox/console.html",
        {"page": page, "rows": rows, "kinds": KINDS.values(), "kind": kind, "query": query, "total": found.count()},
    )


def _detail(request, resource, *, edit_form=None, delete_form=None, metrics_errors=None, status=200):
    spec = resource.spec
    return render(
        request,
        "sandbox/resource.html",
        {
            "resource": resource,
            "spec": spec,
            "attributes": [(f, resource.attributes.get(f.name)) for f in spec.fields if not f.write_only],
            "secrets": [f for f in spec.fields if f.write_only],
            "computed": [(c, resource.computed.get(c.name)) for c in spec.computed],
            "edit_form": edit_form or ResourceEditForm(resource=resource),
            "delete_form": delete_form or DeleteForm(),
            "events": selectors.events(resource_id=resource.id, limit=20),
            "metrics": [(name, resource.metrics.get(name)) for name in spec.metrics],
            "metrics_errors": metrics_errors or {},
            "watched_by": Resource.objects.filter(kind="alarm", attributes__resource_id=resource.id).order_by("name"),
            "deliveries": Delivery.objects.filter(alarm_id=resource.id)[:20] if resource.kind == "alarm" else [],
            "busy": resource.status != Status.AVAILABLE,
        },
        status=status,
    )


@login_required
def resource_detail(request, resource_id: str):
    return _detail(request, _resource_or_404(resource_id))


@login_required
@require_POST
def resource_edit(request, resource_id: str):
    resource = _resource_or_404(resource_id)
    form = ResourceEditForm(request.POST, resource=resource)
    if form.is_valid():
        changed = form.changed_attributes()
        if not changed:
            messages.info(request, "Nothing changed.")
            return redirect(resource)
        try:
            services.resource_update(
                resource_id=resource.id,
                attributes=changed,
                expected_version=form.cleaned_data["version"],
                actor=_actor(request),
            )
        except SandboxError as exc:
            for pointer, problems in exc.errors.items():
                name = pointer.removeprefix("/attributes/")
                for problem in problems:
                    form.add_error(name if name in form.fields else None, problem)
            if not exc.errors:
                form.add_error(None, exc.message)
        else:
            described = ", ".join(f"{k} → {v}" for k, v in changed.items())
            messages.success(request, f"Modifying {resource.name}: {described}. Slipway does not know about this.")
            return redirect(resource)
    return _detail(request, resource, edit_form=form, status=400)


@login_required
@require_POST
def resource_delete(request, resource_id: str):
    resource = _resource_or_404(resource_id)
    form = DeleteForm(request.POST)
    if form.is_valid() and form.cleaned_data["confirm"] != resource.name:
        form.add_error("confirm", f"Type {resource.name} to confirm.")
    if not form.is_valid():
        return _detail(request, resource, delete_form=form, status=400)
    with contextlib.suppress(NotFound):  # gone meanwhile: what the person wanted
        services.resource_delete(resource_id=resource.id, actor=_actor(request))
    messages.success(
        request, f"Deleting {resource.spec.title.lower()} {resource.name}. Slipway does not know about this."
    )
    return redirect("sandbox:console")


@login_required
@require_POST
def resource_metrics(request, resource_id: str):
    """The console's utilisation control: set the simulated metrics; the alarms watching them are evaluated."""
    resource = _resource_or_404(resource_id)
    values, errors = {}, {}
    for name in resource.spec.metrics:
        raw = request.POST.get(f"metric/{name}", "").strip()
        if raw == "":
            values[name] = None
            continue
        try:
            number = float(raw)
        except ValueError:
            errors[f"/metrics/{name}"] = ["Must be a number."]
            continue
        values[name] = int(number) if number.is_integer() else number
    if not errors and values:
        try:
            services.metrics_set(resource_id=resource.id, metrics=values, actor=_actor(request))
        except SandboxError as exc:
            errors = exc.errors or {"/metrics": [exc.message]}
    if errors:
        return _detail(request, resource, metrics_errors=errors, status=400)
    messages.success(request, f"Utilisation of {resource.name} set; the alarms watching it were evaluated.")
    return redirect(resource)
