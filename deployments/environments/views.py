"""Environment-wide pages: deploy, plan or tear down an environment, follow it level by level, cancel it;
compare it with another; fork it."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.errors import ServiceError
from portal.querysets import CHANGE, VIEW, object_for

from ..choices import Tier
from ..models import Environment, Project
from .compare import environment_diff
from .fork import environment_fork, fork_fields, sources
from .models import EnvironmentRun
from .selectors import env_run_levels
from .services import environment_run_cancel, environment_run_start, members


def environment_for(request, pk, action: str = VIEW) -> Environment:
    message = "You can read this environment but not change it."
    return object_for(
        request.user, Environment.objects.select_related("project__team"), action=action, message=message, pk=pk
    )


@login_required
@require_POST
def environment_deploy(request, pk):
    """Deploy (or, with ``action=plan``, plan) every deployment of the environment in dependency order."""
    environment = environment_for(request, pk, CHANGE)
    action = request.POST.get("action", EnvironmentRun.Action.DEPLOY)
    if action == EnvironmentRun.Action.TEARDOWN:  # teardown has its own page, which asks for the name
        return redirect("deployments:env-teardown", environment.pk)
    try:
        env_run = environment_run_start(
            environment=environment, action=action, actor=request.user, reason=request.POST.get("reason", "")[:500]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("deployments:canvas", environment.pk)
    messages.success(request, f"{env_run.get_action_display()} of {environment} started: {env_run.message}")
    return redirect("deployments:canvas", environment.pk)


@login_required
def environment_teardown(request, pk):
    """Destroy every deployment of the environment, consumers first, after the environment's name is typed."""
    environment = environment_for(request, pk, CHANGE)
    error = ""
    if request.method == "POST":
        try:
            environment_run_start(
                environment=environment,
                action=EnvironmentRun.Action.TEARDOWN,
                actor=request.user,
                reason=request.POST.get("reason", "")[:500],
                confirm=request.POST.get("confirm", "").strip(),
            )
        except ServiceError as exc:
            error = exc.message
        else:
            messages.warning(request, f"Teardown of {environment} started.")
            return redirect("deployments:canvas", environment.pk)
    context = {
        "environment": environment,
        "doomed": sorted(members(environment, EnvironmentRun.Action.TEARDOWN), key=lambda d: d.name),
        "error": error,
    }
    return render(request, "deployments/env_teardown.html", context, status=400 if error else 200)


@login_required
def env_run_detail(request, pk):
    """One environment run, level by level; the progress part redraws itself while it is active."""
    queryset = EnvironmentRun.objects.select_related("environment__project__team")
    env_run = object_for(request.user, queryset, action=VIEW, pk=pk)
    context = {"env_run": env_run, "levels": env_run_levels(env_run), "environment": env_run.environment}
    if request.htmx and not request.htmx.boosted:
        return render(request, "deployments/env_run.html#progress", context)
    return render(request, "deployments/env_run.html", context)


@login_required
@require_POST
def env_run_cancel(request, pk):
    queryset = EnvironmentRun.objects.select_related("environment__project__team")
    env_run = object_for(request.user, queryset, action=CHANGE, pk=pk)
    try:
        environment_run_cancel(env_run=env_run, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("deployments:env-run", args=[env_run.pk]))


@login_required
def environment_compare(request, pk):
    """Two environments side by side: ``?with=<environment id>``."""
    environment = environment_for(request, pk)
    others = (
        Environment.objects.visible_to(request.user)
        .exclude(pk=environment.pk)
        .select_related("project")
        .order_by("project__slug", "slug")
    )
    other = None
    if request.GET.get("with"):
        if not request.GET["with"].isdigit():
            raise Http404("No such environment.")
        other = environment_for(request, int(request.GET["with"]))
    context = {
        "environment": environment,
        "other": other,
        "others": others,
        "diff": environment_diff(environment, other) if other is not None else None,
    }
    return render(request, "deployments/env_compare.html", context)


@login_required
def environment_fork_page(request, pk):
    """Fork the environment: where the copy goes, and the values that are not copied."""
    source = environment_for(request, pk, CHANGE)
    projects = Project.objects.actionable_by(request.user, CHANGE).order_by("slug")
    fields = fork_fields(source)
    error, errors = "", {}
    posted = {"project": source.project.slug, "slug": "", "name": "", "tier": Tier.PROTOTYPE}
    if request.method == "POST":
        posted = {k: request.POST.get(k, "").strip() for k in ("project", "slug", "name", "tier", "reason")}
        values: dict[str, dict] = {}
        for f in fields:
            raw = request.POST.get(f"value/{f.key}", "")
            if raw != "":
                values.setdefault(f.deployment, {})[f.pointer] = _typed(f.schema, raw)
        project = projects.filter(slug=posted["project"]).first()
        if project is None:
            error = "Choose a project you can change."
        else:
            try:
                fork = environment_fork(
                    source=source,
                    project=project,
                    slug=posted["slug"],
                    name=posted["name"],
                    tier=posted["tier"],
                    actor=request.user,
                    reason=posted["reason"],
                    values=values,
                )
            except ServiceError as exc:
                error = exc.message
            else:
                said = f"{fork.environment} forked from {source}: {len(fork.deployments)} draft deployments."
                if fork.missing:
                    said += " Still to fill before it deploys: " + ", ".join(sorted(fork.missing)) + "."
                messages.success(request, said + " Deploy all when ready.")
                return redirect("deployments:canvas", fork.environment.pk)
    context = {
        "environment": source,
        "projects": projects,
        "fields": fields,
        "tiers": Tier.choices,
        "posted": posted,
        "error": error,
        "errors": errors,
        "count": len(sources(source)),
    }
    return render(request, "deployments/env_fork.html", context, status=400 if error else 200)


def _typed(schema: dict, raw: str):
    """A typed value from a form field: numbers and booleans as JSON, strings as typed."""
    if schema.get("type") in ("integer", "number", "boolean", "array", "object"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw
