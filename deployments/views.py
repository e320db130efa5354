"""Deployment pages: the list, new, edit, the deployment's page, and its actions (apply, destroy,
force-unlock, reveal). Run pages are in :mod:`.runs.views`, approvals in :mod:`.policy.views`, the
estate and bulk changes in :mod:`.estate.views`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bundles.alarms import anchor_headings
from bundles.cost import form_line, priced_presets
from bundles.display import params_rows
from bundles.forms import build_fields, error_summary, initial_values, parse_post, render_markdown, unplaced_errors
from bundles.forms.fields import PREFIX as PARAM_PREFIX
from bundles.models import Bundle
from bundles.schema import param_errors
from bundles.views import drawn_preset
from portal.crypto import decrypt
from portal.errors import ParamsInvalid, ServiceError
from portal.idempotency import form_idempotent, new_form_token
from portal.inputs import input_problems, shows_input_problems
from portal.pagination import KeysFirst
from portal.querysets import CHANGE, OPERATE, VIEW, object_for
from portal.roles import is_ops

from . import services
from .alarms.views import alarm_context, remedy_prefill
from .choices import DeploymentStatus, RunAction, RunStatus, Tier
from .connections.forms import PREFIX as CONNECTION_PREFIX
from .connections.forms import connection_fields, posted_connections, split_errors
from .connections.options import schema_with_choices
from .connections.selectors import artifacts_shown, consumers, upstream_changes
from .drift.selectors import live_context
from .filters import DeploymentFilter
from .forms import ChangeReasonForm, DestroyForm, ExceptionReasonForm, ForceUnlockForm, NewDeploymentForm
from .models import Deployment, StateLock
from .params_form import current_cost, environment_from, form_state
from .policy import rules as policy
from .policy.selectors import exception_notices
from .policy.services import exception_request_create
from .runs import services as run_services
from .runs.selectors import LOG_WINDOW, queued_reason, run_log_window
from .runs.services import state_lock_force_unlock
from .selectors import DEPLOYMENT_RELATED, deployment_active_runs, environments_writable_by


def deployment_for(request, pk, action: str = VIEW, message: str = "") -> Deployment:
    """404 when the user may not see it (nothing leaks), 403 when they may see but not ``action`` it."""
    queryset = Deployment.objects.select_related(*DEPLOYMENT_RELATED)
    return object_for(request.user, queryset, action=action, message=message, pk=pk)


@login_required
def deployment_list(request):
    visible = Deployment.objects.visible_to(request.user).select_related(*DEPLOYMENT_RELATED)
    filters = DeploymentFilter(request.GET, queryset=visible.order_by("-updated_at", "-id"))
    rows = KeysFirst(filters.qs if filters.is_valid() else visible.none())
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "query": request.GET.get("q", "").strip(),
        "status": request.GET.get("status", ""),
        "statuses": DeploymentStatus.choices,
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "deployments/list.html#results", context)
    return render(request, "deployments/list.html", context)


def _wants_outside_policy(request) -> bool:
    return (request.POST.get("outside_policy") or request.GET.get("outside_policy")) == "1"


def _posted_problems(request, *forms) -> dict[str, list[str]]:
    """What the inputs middleware removed from the params and connections (by pointer, as the form engine shows
    errors); a field no form here shows becomes an error at the top of the first form."""
    errors: dict[str, list[str]] = {}
    for key, said in input_problems(request.POST).items():
        if key.startswith(PARAM_PREFIX + "/"):
            errors[key.removeprefix(PARAM_PREFIX)] = said
        elif key.startswith(CONNECTION_PREFIX):
            errors["/connections/" + key.removeprefix(CONNECTION_PREFIX)] = said
        elif not any(key in form.fields for form in forms):
            forms[0].add_error(None, f"{key}: {said[0]}")
    return errors


@dataclass
class _Submitted:
    """What became of a submitted params form: a response to send, or the errors to draw it again with."""

    response: object = None
    errors: dict = field(default_factory=dict)
    violation: str | None = None
    outside: bool = False


def _submit(request, *, form, exception_form, target: dict, params: dict, save, done: str) -> _Submitted:
    """The one ladder of the new and edit pages: request an exception, or save; then say what happened.

    ``target`` names where the params go (environment, bundle version, name, deployment); ``save()``
    makes the change and returns what to go to.
    """
    try:
        if "request_exception" in request.POST:
            if not exception_form.is_valid():
                check = policy.check_params(
                    environment=target["environment"],
                    bundle_version=target["bundle_version"],
                    params=params,
                    deployment=target.get("deployment"),
                )
                raise policy.PolicyViolation(check)
            exception = exception_request_create(
                **target,
                params=params,
                connections=posted_connections(target["bundle_version"], request.POST),
                reason=exception_form.cleaned_data["exception_reason"],
                actor=request.user,
            )
            messages.success(request, f"Exception #{exception.pk} requested; ops have been notified.")
            return _Submitted(response=redirect(exception))
        saved = save()
    except policy.PolicyViolation as exc:
        # Keep what was asked for on screen (an exception asks for exactly that): draw every choice the
        # bundle has, as "Show choices outside this policy" does.
        return _Submitted(errors=exc.errors, violation=exc.message, outside=True)
    except ParamsInvalid as exc:
        return _Submitted(errors=exc.errors)
    except ServiceError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _Submitted()
    messages.success(request, done)
    return _Submitted(response=redirect(saved))


def _params_context(version, view, shown, values, submitted: _Submitted, *, wiring: dict, **build) -> dict:
    errors, connection_errors = split_errors(submitted.errors)
    deployment = wiring.get("deployment")
    wired = connection_fields(version=version, errors=connection_errors, **wiring)
    # Fields that take their choices from a connection offer what the producer selected now publishes.
    shown = schema_with_choices(
        shown, environment=wiring.get("environment"), version=version, wiring={c["name"]: c["selected"] for c in wired}
    )
    fields = build_fields(shown, version.ui_schema, values, errors, **build)
    return {
        "version": version,
        "fields": fields,
        "connection_fields": wired,
        "root_errors": unplaced_errors(fields, errors),
        "policy_hints": view.hints,
        "violation": submitted.violation,
        "outside_policy": view.outside or submitted.outside,
        "cost_line": form_line(version.monthly_estimate(values), current_cost(deployment)),
    }


def _error_summary(context: dict, *forms) -> list[dict]:
    """What a refused submit says at the top of the page, in page order, each linked to its control."""
    out = []
    for form in forms:
        if not form.is_bound:
            continue
        out.extend({"label": "", "message": m, "target": ""} for m in form.non_field_errors())
        for bf in form:
            out.extend({"label": bf.label, "message": m, "target": bf.id_for_label} for m in bf.errors)
    for c in context["connection_fields"]:
        out.extend({"label": c["title"], "message": m, "target": f"conn-{c['name']}"} for m in c.get("errors", ()))
    out.extend({"label": "", "message": m, "target": ""} for m in context["root_errors"])
    out.extend(error_summary(context["fields"]))
    if context["violation"]:
        # The sentence itself stands in the exception box; the summary leads there without repeating it.
        why = "These values need an exception: say why below and request one."
        out.append({"label": "Policy", "message": why, "target": "id_exception_reason"})
    exception_form = context.get("exception_form")
    if exception_form is not None and exception_form.is_bound and exception_form.errors:
        out.append(
            {
                "label": "Reason",
                "message": "Say why you need this: ops decide on your reason.",
                "target": "id_exception_reason",
            }
        )
    return out


@shows_input_problems
@login_required
@form_idempotent
def deployment_new(request, bundle_name: str):
    bundle = get_object_or_404(Bundle, name=bundle_name)
    version = bundle.latest_version()
    if version is None:
        raise Http404("This bundle has no published version.")
    environments = environments_writable_by(request.user)
    environment = environment_from(request.POST if request.method == "POST" else request.GET, request.user)
    schema = version.params_schema
    # The form shows what this environment's policy allows; validation still uses the full rules.
    view = policy.form_view(environment=environment, bundle_version=version, outside=_wants_outside_policy(request))
    preset = version.preset(request.GET.get("preset", "")) if request.method == "GET" else None
    exception_form = ExceptionReasonForm(request.POST if "request_exception" in request.POST else None)
    submitted = _Submitted()
    typed = False
    if request.method == "POST":
        meta = NewDeploymentForm(request.POST, environments=environments)
        values = parse_post(schema, request.POST)
        problems = _posted_problems(request, meta, exception_form)
        if meta.is_valid() and not problems:
            data = meta.cleaned_data
            target = {"environment": data["environment"], "bundle_version": version, "name": data["name"]}
            submitted = _submit(
                request,
                form=meta,
                exception_form=exception_form,
                target=target,
                params=values,
                save=lambda: services.deployment_create(
                    **target,
                    params=values,
                    connections=posted_connections(version, request.POST),
                    **_said(request, data),
                ),
                done=f"{data['name']} is being deployed.",
            )
            if submitted.response is not None:
                return submitted.response
        else:
            # Still check the params, so every error shows at once.
            submitted.errors = {**param_errors(schema, values), **problems}
    else:
        meta = NewDeploymentForm(
            initial={"environment": environment.pk if environment else None}, environments=environments
        )
        # A re-render for another environment keeps what was typed; picking a preset starts from it,
        # and so does a preset picked whose answer never landed (the params were drawn from another).
        typed = (
            request.htmx
            and request.htmx.trigger_name != "preset"
            and any(k.startswith("param/") for k in request.GET)
            and (preset or {}).get("name", "") == request.GET.get("_drawn_preset", "")
        )
        values = parse_post(schema, request.GET, fill_defaults=True) if typed else initial_values(view.schema, preset)
    meta.fields["environment"].widget.attrs.update(
        {
            "hx-get": reverse("deployments:new", args=[bundle.name]),
            "hx-target": "#params",
            "hx-swap": "outerHTML",
            "hx-include": "closest form",
            "hx-sync": "#deploy-form:replace",  # a later pick (a preset) wins over an answer still on its way
        }
    )
    shown = schema if submitted.outside else view.schema
    wiring = {"environment": environment, "data": request.POST if request.method == "POST" else request.GET}
    posted = request.POST if request.method == "POST" else (request.GET if typed else None)
    context = {
        **_params_context(version, view, shown, values, submitted, wiring=wiring, posted=posted),
        "bundle": bundle,
        "meta": meta,
        "submission": new_form_token(request),
        "presets": priced_presets(version),
        "preset_name": preset.get("name") if preset else drawn_preset(request, version),
        "no_environments": not environments.exists(),
        "environment": environment,
        "exception_form": exception_form,
        "form_url": reverse("deployments:new", args=[bundle.name]),
    }
    if request.method == "POST":
        context["error_summary"] = _error_summary(context, meta)
        # The name of a destroyed deployment: offer that one back instead.
        chosen = getattr(meta, "cleaned_data", {}).get("environment")
        typed = (request.POST.get("name") or "").strip()
        if chosen is not None and typed:
            context["destroyed_namesake"] = Deployment.objects.filter(
                environment=chosen, name__iexact=typed, status=DeploymentStatus.DESTROYED
            ).first()
    if request.htmx and request.method == "GET":
        return render(request, "deployments/new.html#params", context)
    return render(request, "deployments/new.html", context, status=400 if request.method == "POST" else 200)


@shows_input_problems
@login_required
def deployment_edit(request, pk):
    deployment = deployment_for(request, pk, CHANGE, "You can read this deployment but not change it.")
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
    form = ChangeReasonForm(request.POST or None)
    exception_form = ExceptionReasonForm(request.POST if "request_exception" in request.POST else None)
    expected = request.POST.get("expected_version")
    submitted = _Submitted()
    typed = False
    stored = {"stored": state.stored, "lock_immutable": state.lock_immutable}
    if request.method == "POST":
        values = parse_post(schema, request.POST, **stored)
        problems = _posted_problems(request, form, exception_form)
        if problems:
            submitted.errors = {**param_errors(schema, values), **problems}
            form.is_valid()  # its own fields' errors too
        elif form.is_valid():
            submitted = _submit(
                request,
                form=form,
                exception_form=exception_form,
                target={
                    "environment": deployment.environment,
                    "bundle_version": version,
                    "name": deployment.name,
                    "deployment": deployment,
                },
                params=values,
                save=lambda: _change(request, deployment, values, form.cleaned_data, expected),
                done=f"Change to {deployment.name} queued.",
            )
            if submitted.response is not None:
                return submitted.response
    else:
        typed = request.htmx and any(k.startswith("param/") for k in request.GET)
        values = parse_post(schema, request.GET, **stored, fill_defaults=True) if typed else deployment.params
        remedy = None if typed else remedy_prefill(deployment, request.GET.get("remedy", ""))
        if remedy is not None:  # an alarm's remedy: the change prefilled, submitted like any other (policy decides)
            values = remedy.params
            form = ChangeReasonForm(initial={"reason": f"Remedy for alarm {request.GET['remedy']}: {remedy.words}"})
    shown = schema if submitted.outside else view.schema
    build = {"stored_secrets": state.stored_secrets, "lock_immutable": state.lock_immutable}
    build["posted"] = request.POST if request.method == "POST" else (request.GET if typed else None)
    wiring = {
        "environment": deployment.environment,
        "deployment": deployment,
        "data": request.POST if request.method == "POST" else request.GET,
    }
    context = {
        **_params_context(version, view, shown, values, submitted, wiring=wiring, **build),
        "deployment": deployment,
        "form": form,
        "environment": deployment.environment,
        "exception_form": exception_form,
        "form_url": reverse("deployments:edit", args=[deployment.pk]),
        "remedy": None if request.method == "POST" or typed else remedy,
        # The version these values were edited from. A refused save keeps it, so saving again is
        # refused again instead of writing these values over the other person's change.
        "expected_version": expected
        if request.method == "POST" and expected and expected.isdigit()
        else deployment.version,
    }
    if request.method == "POST":
        context["error_summary"] = _error_summary(context, form)
    if request.htmx and request.method == "GET":
        return render(request, "deployments/edit.html#params", context)
    return render(request, "deployments/edit.html", context, status=400 if request.method == "POST" else 200)


def _said(request, data: dict) -> dict:
    """Who changes and why, as a change page's form says it (``ChangeReasonForm``)."""
    return {"actor": request.user, "channel": "ui", "reason": data["reason"], "auto_apply": not data["review_first"]}


def _change(request, deployment: Deployment, values: dict, data: dict, expected: str | None) -> Deployment:
    version = int(expected) if expected and expected.isdigit() else None
    services.deployment_update(
        deployment=deployment,
        params=values,
        expected_version=version,
        connections=posted_connections(deployment.bundle_version, request.POST),
        **_said(request, data),
    )
    return deployment


@login_required
def deployment_detail(request, pk):
    run_services.runs_reap_due()  # a run whose worker died is shown interrupted even with no worker alive
    deployment = deployment_for(request, pk)
    version = deployment.bundle_version
    runs = deployment.runs.order_by("-created_at", "-id")
    active = list(deployment_active_runs(deployment))  # the one running first, then those waiting behind it
    current = active[0] if active else runs.first()
    sensitive_names = sorted(
        name for name, spec in (version.module_outputs or {}).items() if spec.get("sensitive") is True
    )
    if deployment.sensitive_outputs:
        sensitive_names = sorted(json.loads(decrypt(deployment.sensitive_outputs)).keys())
    live = live_context(request.user, deployment)
    context = {
        **live,
        "deployment": deployment,
        "version": version,
        "config_rows": params_rows(version.params_schema, deployment.params),
        "monthly_cost": current_cost(deployment),
        **_applied_and_desired(deployment),
        "outputs": deployment.outputs,
        "sensitive_outputs": sensitive_names,
        "current_run": current,
        "current_log": run_log_window(current) if current else None,  # its newest lines; the run page has the rest
        "log_window_size": LOG_WINDOW,
        "waiting_reason": queued_reason(current) if current and current.status == RunStatus.QUEUED else "",
        "waiting": active[1:],
        "runs": runs[:20],
        "can_change": live["can_change"],
        "runbook_html": anchor_headings(render_markdown(version.runbook)),
        **alarm_context(deployment),
        "tier_is_production": deployment.environment.tier == Tier.PRODUCTION,
        "lock": StateLock.objects.filter(deployment=deployment).select_related("run").first(),
        "pending_exceptions": deployment.exception_requests.filter(status="pending"),
        "exception_notices": exception_notices(deployment),
        "unapplied": "" if active else _not_applied_because(deployment),
        "can_force_unlock": is_ops(request.user),
        "connections": _connections_shown(deployment, current),
        "consumers": consumers(deployment),
        "artifacts": artifacts_shown(deployment),
        "upstream_changes": upstream_changes(deployment),
        "unlock_form": ForceUnlockForm(),
    }
    context["tabs"] = deployment_tabs(context)
    asked = request.GET.get("tab", "")
    context["current_tab"] = asked if any(t["slug"] == asked for t in context["tabs"]) else "overview"
    return render(request, "deployments/detail.html", context)


# The deployment page's tabs, in order: (slug, label, template). The slug is the tab's URL (?tab=runs) and
# its panel's id; a section another feature adds goes into one of these templates, or is a tab of its own here.
DEPLOYMENT_TABS = (
    ("overview", "Overview", "deployments/detail/overview.html"),
    ("runs", "Runs", "deployments/detail/runs.html"),
    ("configuration", "Configuration and history", "deployments/detail/configuration.html"),
    ("outputs", "Outputs", "deployments/detail/outputs.html"),
    ("runbook", "Runbook", "deployments/detail/runbook.html"),
)


def deployment_tabs(context: dict) -> list[dict]:
    """The tabs the deployment page shows: all but the runbook when the bundle has none."""
    return [
        {"slug": slug, "label": label, "template": template}
        for slug, label, template in DEPLOYMENT_TABS
        if slug != "runbook" or context.get("runbook_html")
    ]


def _applied_and_desired(deployment: Deployment) -> dict:
    """The configuration running (the last successful apply) beside the desired one, when they differ.

    A change waiting for a plan review or for ops is desired, not applied: the page shows both, so
    nobody reads a pending value as the current one."""
    applied = (
        deployment.runs.filter(status=RunStatus.SUCCEEDED, action=RunAction.APPLY)
        .select_related("bundle_version")
        .order_by("-finished_at", "-id")
        .first()
    )
    if applied is None:
        return {"applied_run": None, "config_pending": deployment.status != DeploymentStatus.DESTROYED}
    wiring = _connections_pending(deployment, applied)
    if (
        applied.params == deployment.params
        and applied.bundle_version_id == deployment.bundle_version_id
        and not any(row["changed"] for row in wiring)
    ):
        return {"applied_run": applied, "config_pending": False}
    desired = {row.pointer: row for row in params_rows(deployment.bundle_version.params_schema, deployment.params)}
    running = {row.pointer: row for row in params_rows(applied.bundle_version.params_schema, applied.params)}
    rows = []
    for ptr in [*running, *(p for p in desired if p not in running)]:
        now, want = running.get(ptr), desired.get(ptr)
        rows.append(
            {
                "label": (want or now).label,
                "running": now.value if now else "—",
                "desired": want.value if want else "—",
                "changed": (now.value if now else None) != (want.value if want else None),
                "sensitive": bool((now and now.sensitive) or (want and want.sensitive)),
            }
        )
    return {"applied_run": applied, "config_pending": True, "compare_rows": rows + wiring}


def _connections_pending(deployment: Deployment, applied) -> list[dict]:
    """Each connection's producer as the last successful apply used it beside the one it is connected to now
    (a rewiring waiting for its plan is desired, not running)."""
    declared = deployment.bundle_version.connections
    if not declared:
        return []
    used = applied.upstream or {}
    wired = deployment.connections or {}
    names = dict(Deployment.objects.filter(pk__in=[p for p in wired.values() if p]).values_list("pk", "name"))
    rows = []
    for connection in declared:
        name = connection["name"]
        running = (used.get(name) or {}).get("name") or "not connected"
        desired = names.get(_uuid_or_none(wired.get(name)), "not connected") if wired.get(name) else "not connected"
        title = connection.get("title") or name
        rows.append(
            {
                "label": f"{title} (connection)",
                "running": running,
                "desired": desired,
                "changed": (used.get(name) or {}).get("deployment", "") != (wired.get(name) or ""),
                "sensitive": False,
            }
        )
    return rows


def _connections_shown(deployment: Deployment, run) -> list[dict]:
    """Each connection with its producer now and the artifact version the latest run used."""
    wired = deployment.connections or {}
    producers = Deployment.objects.in_bulk([pk for pk in wired.values() if pk])
    used = (run.upstream if run is not None else {}) or {}
    rows = []
    for connection in deployment.bundle_version.connections:
        name = connection["name"]
        producer = producers.get(_uuid_or_none(wired.get(name)))
        rows.append({"connection": connection, "producer": producer, "used": used.get(name)})
    return rows


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


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


def _act(request, action, done) -> None:
    """Run ``action()`` for a page's button; its refusal becomes the message, else ``done(result)``."""
    try:
        result = action()
    except (ParamsInvalid, ServiceError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done(result))


@login_required
@require_POST
def deployment_apply(request, pk):
    """Apply the deployment's current configuration again (after a discarded plan or a failure)."""
    deployment = deployment_for(request, pk, CHANGE)
    _act(
        request,
        lambda: services.deployment_reapply(
            deployment=deployment, actor=request.user, reason="apply the saved configuration"
        ),
        lambda run: f"Applying configuration v{deployment.version}: run #{run.pk}.",
    )
    return redirect(deployment)


@login_required
@require_POST
def deployment_redeploy(request, pk):
    """Deploy a destroyed deployment again, with its last configuration (through today's policy)."""
    deployment = deployment_for(request, pk, CHANGE)
    if deployment.status != DeploymentStatus.DESTROYED:
        messages.error(request, f"{deployment.name} is not destroyed: nothing to redeploy.")
        return redirect(deployment)
    _act(
        request,
        lambda: services.deployment_reapply(
            deployment=deployment,
            actor=request.user,
            reason=request.POST.get("reason", "").strip()[:500] or "redeployed with its last configuration",
            revive=True,
        ),
        lambda run: f"Redeploying {deployment.name} with configuration v{deployment.version}: run #{run.pk}.",
    )
    return redirect(deployment)


@shows_input_problems
@login_required
def deployment_destroy(request, pk):
    deployment = deployment_for(request, pk, CHANGE)
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
    context = {"deployment": deployment, "form": form, "needs_ops": needs_ops, "consumers": consumers(deployment)}
    return render(request, "deployments/destroy.html", context)


@login_required
@require_POST
def deployment_force_unlock(request, pk):
    deployment = deployment_for(request, pk, OPERATE, "Only platform ops can force-unlock state.")
    form = ForceUnlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why it is safe to unlock.")
        return redirect(deployment)
    try:
        state_lock_force_unlock(deployment=deployment, actor=request.user, reason=form.cleaned_data["reason"])
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.warning(request, f"State lock of {deployment.name} released.")
    return redirect(deployment)


@login_required
@require_POST
def output_reveal(request, pk, name):
    """Show one sensitive output to someone allowed to change the deployment; every reveal is audited."""
    deployment = deployment_for(request, pk, CHANGE)
    try:
        value = services.sensitive_output_reveal(deployment=deployment, name=name, actor=request.user)
    except ServiceError as exc:
        raise Http404(exc.message) from exc
    return render(request, "deployments/detail.html#revealed", {"name": name, "value": value})
