"""Environment-wide pages: deploy, plan or tear down an environment, follow it level by level, cancel it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.errors import ServiceError
from portal.querysets import CHANGE, VIEW, object_for

from ..models import Environment
from .compare import environment_diff
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
