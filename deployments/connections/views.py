"""The environment canvas page, and wiring on it: pick a deployment's connection, then a compatible producer."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bundles.models import Bundle
from portal.errors import ParamsInvalid, ServiceError
from portal.querysets import CHANGE, VIEW, object_for

from .. import services
from ..environments.selectors import env_run_levels, latest_env_run, step_by_deployment
from ..forms import ChangeReasonForm
from ..models import Deployment, Environment
from ..selectors import environments_writable_by
from . import services as connection_services
from .canvas import environment_canvas
from .forms import canvas_slots, producer_choices, slot_choice


@login_required
def environment_canvas_page(request, pk):
    """The environment as a diagram: deployments, their connections, their status; redrawn while runs go on.
    Below it, who may change the environment wires a connection: ``?slot=<deployment id>/<connection>`` picks
    the connection (the producers' part alone answers htmx), then a compatible producer is posted."""
    environment = object_for(request.user, Environment.objects.select_related("project__team"), action=VIEW, pk=pk)
    canvas = environment_canvas(environment)
    can_change = environments_writable_by(request.user).filter(pk=environment.pk).exists()
    slots = canvas_slots([n.deployment for n in canvas.nodes]) if can_change else []
    slot = slot_choice(slots, request.GET.get("slot", ""))
    env_run = latest_env_run(environment)
    steps = step_by_deployment(env_run)
    for node in canvas.nodes:
        node.step = steps.get(str(node.deployment.pk))
    context = {
        "environment": environment,
        "canvas": canvas,
        "bundles": Bundle.objects.order_by("category", "name"),
        "can_add": can_change,
        "slots": slots,
        "slot": slot,
        "producers": producer_choices(environment, slot) if slot else None,
        "env_run": env_run,
        "levels": env_run_levels(env_run) if env_run is not None else [],
        "others": Environment.objects.visible_to(request.user)
        .exclude(pk=environment.pk)
        .select_related("project")
        .order_by("project__slug", "slug"),
    }
    if request.htmx and not request.htmx.boosted:
        part = "producer" if request.htmx.target == "connect-producer" else "diagram"
        return render(request, f"deployments/canvas.html#{part}", context)
    return render(request, "deployments/canvas.html", context)


@login_required
@require_POST
def canvas_connect(request, pk):
    """Connect one deployment's connection to the producer picked on the canvas: a change of its configuration
    through the same service, policy path and run as the edit form's."""
    environment = object_for(
        request.user,
        Environment.objects.select_related("project__team"),
        action=CHANGE,
        message="You can look at this environment but not change it.",
        pk=pk,
    )
    canvas_url = reverse("deployments:canvas", args=[environment.pk])
    slot = slot_choice(
        canvas_slots([n.deployment for n in environment_canvas(environment).nodes]), request.POST.get("slot", "")
    )
    if slot is None:
        messages.error(request, "Choose a deployment's connection first.")
        return redirect(canvas_url + "#connect")
    again = f"{canvas_url}?{urlencode({'slot': slot.value})}#connect"
    said = ChangeReasonForm(request.POST)
    said.is_valid()
    data = said.cleaned_data
    producer = request.POST.get("producer", "")
    version = request.POST.get("version", "")
    consumer = slot.consumer
    try:
        run = services.deployment_update(
            deployment=consumer,
            params=consumer.params,
            connections={slot.connection["name"]: producer},
            expected_version=int(version) if version.isdigit() else None,
            actor=request.user,
            channel="ui",
            reason=data.get("reason") or f"{slot.title} connected on the environment diagram",
            auto_apply=not data.get("review_first"),
        )
    except ParamsInvalid as exc:
        messages.error(request, " ".join(m for msgs in exc.errors.values() for m in msgs) or exc.message)
        return redirect(again)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(again)
    consumer.refresh_from_db()
    now = "disconnected" if not producer else f"connected to {_producer_name(slot, consumer)}"
    messages.success(request, f"{consumer.name}'s {slot.title} is now {now}: run #{run.pk} queued to make it real.")
    return redirect(canvas_url)


def _producer_name(slot, consumer) -> str:
    producer_id = (consumer.connections or {}).get(slot.connection["name"])
    return Deployment.objects.filter(pk=producer_id).values_list("name", flat=True).first() or "?"


@login_required
@require_POST
def artifact_reveal(request, pk, name):
    """One artifact's data in clear, on the deployment's page, to someone who may change the deployment: the same
    audited reveal as the API's (a ``secret.revealed`` event, channel ``ui``)."""
    deployment = object_for(
        request.user, Deployment.objects, action=CHANGE, message="Only who may change it can reveal its data.", pk=pk
    )
    try:
        artifact, data = connection_services.artifact_reveal(deployment=deployment, name=name, actor=request.user)
    except ServiceError as exc:
        raise Http404(exc.message) from exc
    return render(request, "deployments/detail.html#artifact-revealed", {"artifact": artifact, "data": data})
