from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from bundles.display import params_rows
from bundles.forms import build_fields, initial_values, parse_post, render_markdown, unplaced_errors
from bundles.models import Bundle
from bundles.schema import param_errors
from bundles.views import drawn_preset, form_state
from portal.crypto import decrypt
from portal.roles import is_ops

from . import policy, services
from .choices import DeploymentStatus, Tier
from .forms import ChangeReasonForm, DestroyForm, ExceptionReasonForm, ForceUnlockForm, NewDeploymentForm
from .models import Deployment, Run, StateLock
from .selectors import (
    can_change_deployment,
    deployment_active_runs,
    deployments_visible_to,
    environments_writable_by,
    run_log_after,
    runs_visible_to,
)
from .services import ParamsInvalid, ServiceError


def _get_deployment_for_user(request, pk, *, write: bool = False) -> Deployment:
    """404 when the user may not see it (nothing leaks), 403 when they may see but not change it."""
    deployment = deployments_visible_to(request.user).filter(pk=pk).first()
    if deployment is None:
        raise Http404("No such deployment.")
    if write and not can_change_deployment(request.user, deployment):
        raise PermissionDenied("You can read this deployment but not change it.")
    return deployment


def _get_run_for_user(request, pk) -> Run:
    run = runs_visible_to(request.user).filter(pk=pk).first()
    if run is None:
        raise Http404("No such run.")
    return run


@login_required
def deployment_list(request):
    qs = deployments_visible_to(request.user)
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if query:
        qs = qs.filter(
            Q(name__icontains=query)
            | Q(environment__project__slug__icontains=query)
            | Q(bundle_version__bundle__name__icontains=query)
        )
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by("-updated_at"), 50).get_page(request.GET.get("page"))
    context = {"page": page, "query": query, "status": status, "statuses": DeploymentStatus.choices}
    if request.htmx and not request.htmx.boosted:
        return render(request, "deployments/list.html#results", context)
    return render(request, "deployments/list.html", context)


def _wants_outside_policy(request) -> bool:
    return (request.POST.get("outside_policy") or request.GET.get("outside_policy")) == "1"


def _environment_from(request, environments):
    raw = request.POST.get("environment") or request.GET.get("environment") or ""
    return environments.filter(pk=int(raw)).first() if raw.isdigit() else None


@login_required
def deployment_new(request, bundle_name: str):
    bundle = get_object_or_404(Bundle, name=bundle_name)
    version = bundle.latest_version()
    if version is None:
        raise Http404("This bundle has no published version.")
    environments = environments_writable_by(request.user)
    environment = _environment_from(request, environments)
    schema, ui = version.params_schema, version.ui_schema
    # The form shows what this environment's policy allows; validation still uses the full rules.
    view = policy.form_view(environment=environment, bundle_version=version, outside=_wants_outside_policy(request))
    shown, hints, outside_policy = view.schema, view.hints, view.outside
    preset = version.preset(request.GET.get("preset", "")) if request.method == "GET" else None
    param_errs: dict[str, list[str]] = {}
    violation = None
    exception_form = ExceptionReasonForm(request.POST if "request_exception" in request.POST else None)
    if request.method == "POST":
        meta = NewDeploymentForm(request.POST, environments=environments)
        values = parse_post(schema, request.POST)
        if meta.is_valid():
            data = meta.cleaned_data
            try:
                if "request_exception" in request.POST:
                    if not exception_form.is_valid():
                        raise services.PolicyViolation(
                            policy.check_params(environment=data["environment"], bundle_version=version, params=values)
                        )
                    exception = services.exception_request_create(
                        environment=data["environment"],
                        bundle_version=version,
                        name=data["name"],
                        params=values,
                        reason=exception_form.cleaned_data["exception_reason"],
                        actor=request.user,
                    )
                    messages.success(request, f"Exception #{exception.pk} requested; ops have been notified.")
                    return redirect(exception)
                deployment = services.deployment_create(
                    environment=data["environment"],
                    name=data["name"],
                    bundle_version=version,
                    params=values,
                    actor=request.user,
                    channel="ui",
                    reason=data["reason"],
                    auto_apply=not data["review_first"],
                )
            except services.PolicyViolation as exc:
                param_errs, violation = exc.errors, exc.message
                # Keep what was asked for on screen (an exception asks for exactly that): draw every
                # choice the bundle has, as "Show choices outside this policy" does.
                shown, outside_policy = schema, True
            except ParamsInvalid as exc:
                param_errs = exc.errors
            except ServiceError as exc:
                meta.add_error(exc.field if exc.field in meta.fields else None, exc.message)
            else:
                messages.success(request, f"{deployment.name} is being deployed.")
                return redirect(deployment)
        else:
            # Still check the params, so every error shows at once.
            param_errs = param_errors(schema, values)
    else:
        meta = NewDeploymentForm(
            initial={"environment": environment.pk if environment else None}, environments=environments
        )
        # A re-render for another environment keeps what was typed; picking a preset starts from it,
        # and so does a preset picked whose answer never landed (the params were drawn from another).
        drawn_from = request.GET.get("_drawn_preset", "")
        typed = (
            request.htmx
            and request.htmx.trigger_name != "preset"
            and any(k.startswith("param/") for k in request.GET)
            and (preset or {}).get("name", "") == drawn_from
        )
        values = parse_post(schema, request.GET) if typed else initial_values(shown, preset)
    meta.fields["environment"].widget.attrs.update(
        {
            "hx-get": reverse("deployments:new", args=[bundle.name]),
            "hx-target": "#params",
            "hx-swap": "outerHTML",
            "hx-include": "closest form",
            "hx-sync": "#deploy-form:replace",  # a later pick (a preset) wins over an answer still on its way
        }
    )
    fields = build_fields(shown, ui, values, param_errs)
    context = {
        "bundle": bundle,
        "version": version,
        "meta": meta,
        "fields": fields,
        "root_errors": unplaced_errors(fields, param_errs),
        "presets": version.presets,
        "preset_name": preset.get("name") if preset else drawn_preset(request, version),
        "no_environments": not environments.exists(),
        "policy_hints": hints,
        "environment": environment,
        "violation": violation,
        "exception_form": exception_form,
        "outside_policy": outside_policy,
        "form_url": reverse("deployments:new", args=[bundle.name]),
    }
    if request.htmx and request.method == "GET":
        return render(request, "deployments/new.html#params", context)
    return render(request, "deployments/new.html", context, status=400 if request.method == "POST" else 200)


@login_required
def deployment_edit(request, pk):
    deployment = _get_deployment_for_user(request, pk, write=True)
    version = deployment.bundle_version
    schema = version.params_schema
    # Stored secrets in clear (a blank field keeps them) and whether x-immutable fields are locked yet.
    state = form_state(deployment)
    # A configuration approved as an exception stays visible (and so kept) in its own form.
    view = policy.form_view(
        environment=deployment.environment,
        bundle_version=version,
        deployment=deployment,
        outside=_wants_outside_policy(request),
    )
    shown, hints, outside_policy = view.schema, view.hints, view.outside
    param_errs: dict[str, list[str]] = {}
    violation = None
    form = ChangeReasonForm(request.POST or None)
    exception_form = ExceptionReasonForm(request.POST if "request_exception" in request.POST else None)
    expected = request.POST.get("expected_version")
    if request.method == "POST":
        values = parse_post(schema, request.POST, stored=state["stored"], lock_immutable=state["lock_immutable"])
        if form.is_valid():
            try:
                if "request_exception" in request.POST:
                    if not exception_form.is_valid():
                        raise services.PolicyViolation(
                            policy.check_params(
                                environment=deployment.environment, bundle_version=version, params=values
                            )
                        )
                    exception = services.exception_request_create(
                        environment=deployment.environment,
                        bundle_version=version,
                        name=deployment.name,
                        params=values,
                        reason=exception_form.cleaned_data["exception_reason"],
                        actor=request.user,
                        deployment=deployment,
                    )
                    messages.success(request, f"Exception #{exception.pk} requested; ops have been notified.")
                    return redirect(exception)
                services.deployment_update(
                    deployment=deployment,
                    params=values,
                    actor=request.user,
                    channel="ui",
                    reason=form.cleaned_data["reason"],
                    auto_apply=not form.cleaned_data["review_first"],
                    expected_version=int(expected) if expected and expected.isdigit() else None,
                )
            except services.PolicyViolation as exc:
                param_errs, violation = exc.errors, exc.message
                # Keep what was asked for on screen (an exception asks for exactly that): draw every
                # choice the bundle has, as "Show choices outside this policy" does.
                shown, outside_policy = schema, True
            except ParamsInvalid as exc:
                param_errs = exc.errors
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Change to {deployment.name} queued.")
                return redirect(deployment)
    else:
        typed = request.htmx and any(k.startswith("param/") for k in request.GET)
        values = (
            parse_post(schema, request.GET, stored=state["stored"], lock_immutable=state["lock_immutable"])
            if typed
            else deployment.params
        )
    fields = build_fields(
        shown,
        version.ui_schema,
        values,
        param_errs,
        stored_secrets=state["stored_secrets"],
        lock_immutable=state["lock_immutable"],
    )
    context = {
        "deployment": deployment,
        "version": version,
        "form": form,
        "fields": fields,
        "root_errors": unplaced_errors(fields, param_errs),
        "policy_hints": hints,
        "environment": deployment.environment,
        "violation": violation,
        "exception_form": exception_form,
        "outside_policy": outside_policy,
        "form_url": reverse("deployments:edit", args=[deployment.pk]),
        # The version these values were edited from. A refused save keeps it, so saving again is
        # refused again instead of writing these values over the other person's change.
        "expected_version": expected
        if request.method == "POST" and expected and expected.isdigit()
        else deployment.version,
    }
    if request.htmx and request.method == "GET":
        return render(request, "deployments/edit.html#params", context)
    return render(request, "deployments/edit.html", context, status=400 if request.method == "POST" else 200)


@login_required
def deployment_detail(request, pk):
    deployment = _get_deployment_for_user(request, pk)
    version = deployment.bundle_version
    runs = deployment.runs.order_by("-created_at", "-id")
    active = list(deployment_active_runs(deployment))  # the one running first, then those waiting behind it
    current = active[0] if active else runs.first()
    sensitive_names = sorted(
        name for name, spec in (version.module_outputs or {}).items() if spec.get("sensitive") is True
    )
    if deployment.sensitive_outputs:
        sensitive_names = sorted(json.loads(decrypt(deployment.sensitive_outputs)).keys())
    context = {
        "deployment": deployment,
        "version": version,
        "config_rows": params_rows(version.params_schema, deployment.params),
        "outputs": deployment.outputs,
        "sensitive_outputs": sensitive_names,
        "current_run": current,
        "current_lines": run_log_after(current, 0, limit=5000) if current else [],
        "waiting": active[1:],
        "runs": runs[:20],
        "can_change": can_change_deployment(request.user, deployment),
        "runbook_html": render_markdown(version.runbook),
        "tier_is_production": deployment.environment.tier == Tier.PRODUCTION,
        "lock": StateLock.objects.filter(deployment=deployment).select_related("run").first(),
        "pending_exceptions": deployment.exception_requests.filter(status="pending"),
        "unapplied": "" if active else _not_applied_because(deployment),
        "can_force_unlock": is_ops(request.user),
        "unlock_form": ForceUnlockForm(),
    }
    return render(request, "deployments/detail.html", context)


def _not_applied_because(deployment: Deployment) -> str:
    """Why the configuration shown is not the one running, or "" when it is. (Not asked while a run is on its way.)"""
    if deployment.status == DeploymentStatus.DESTROYED:
        return ""
    applied = deployment.runs.filter(status="succeeded", action="apply").order_by("-finished_at").first()
    latest = deployment.runs.filter(action="apply").order_by("-created_at", "-id").first()
    if applied is None:
        return "It has never been applied successfully." + (
            f" The last attempt, run #{latest.pk}, was {latest.get_status_display().lower()}." if latest else ""
        )
    if applied.params == deployment.params and applied.bundle_version_id == deployment.bundle_version_id:
        return ""
    return (
        f"What runs is the configuration applied by run #{applied.pk} "
        f"({applied.finished_at:%Y-%m-%d %H:%M} UTC). The change after it was "
        f"{latest.get_status_display().lower() if latest and latest.pk != applied.pk else 'never applied'}."
    )


@login_required
@require_POST
def deployment_apply(request, pk):
    """Apply the deployment's current configuration again (after a discarded plan or a failure)."""
    deployment = _get_deployment_for_user(request, pk, write=True)
    try:
        run = services.deployment_reapply(
            deployment=deployment, actor=request.user, reason="apply the saved configuration"
        )
    except ParamsInvalid as exc:
        messages.error(request, exc.message)
        return redirect(deployment)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(deployment)
    messages.success(request, f"Applying configuration v{deployment.version}: run #{run.pk}.")
    return redirect(deployment)


@login_required
def deployment_destroy(request, pk):
    deployment = _get_deployment_for_user(request, pk, write=True)
    form = DestroyForm(request.POST or None, deployment=deployment)
    if request.method == "POST" and form.is_valid():
        try:
            services.deployment_destroy(deployment=deployment, actor=request.user, reason=form.cleaned_data["reason"])
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.warning(request, f"{deployment.name} is being destroyed.")
            return redirect(deployment)
    needs_ops = "destroy" in (policy.policy_for(deployment.environment).gated_actions or [])
    return render(request, "deployments/destroy.html", {"deployment": deployment, "form": form, "needs_ops": needs_ops})


@login_required
def run_detail(request, pk):
    run = _get_run_for_user(request, pk)
    return render(
        request,
        "deployments/run.html",
        {
            "run": run,
            "deployment": run.deployment,
            "lines": run_log_after(run, 0, limit=5000),
            "can_change": can_change_deployment(request.user, run.deployment),
        },
    )


@login_required
def run_logs(request, pk):
    """The log tail: lines after ``?after=N``. htmx polls this until the run ends (status 286).

    ``?seen=<status>`` is the status the page last showed: when the run has moved on (to planned,
    awaiting approval, applying), the ``run-changed`` event lets the page redraw what depends on it
    (the buttons, the runs table) while the tail keeps following."""
    run = _get_run_for_user(request, pk)
    after_raw = request.GET.get("after", "0") or "0"
    after = int(after_raw) if after_raw.isdigit() else 0
    lines = run_log_after(run, after)
    if request.GET.get("format") == "raw":
        text = "\n".join(line.text for line in run.log_lines.order_by("seq"))
        response = HttpResponse(text + "\n", content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}.log"'
        return response
    cursor = lines[-1].seq if lines else after
    limit_reached = len(lines) >= 500
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
    run = _get_run_for_user(request, pk)
    if not can_change_deployment(request.user, run.deployment):
        raise PermissionDenied("You cannot act on runs of this deployment.")
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


@login_required
@require_POST
def deployment_force_unlock(request, pk):
    deployment = _get_deployment_for_user(request, pk)
    if not is_ops(request.user):
        raise PermissionDenied("Only platform ops can force-unlock state.")
    form = ForceUnlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why it is safe to unlock.")
        return redirect(deployment)
    try:
        services.state_lock_force_unlock(deployment=deployment, actor=request.user, reason=form.cleaned_data["reason"])
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.warning(request, f"State lock of {deployment.name} released.")
    return redirect(deployment)


@login_required
@require_POST
def output_reveal(request, pk, name):
    """Show one sensitive output to someone allowed to change the deployment; every reveal is audited."""
    deployment = _get_deployment_for_user(request, pk, write=True)
    try:
        value = services.sensitive_output_reveal(deployment=deployment, name=name, actor=request.user)
    except ServiceError as exc:
        raise Http404(exc.message) from exc
    return render(request, "deployments/detail.html#revealed", {"name": name, "value": value})
