from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .forms import (
    add_row,
    build_fields,
    find_field,
    parse_post,
    remove_row,
    render_markdown,
    unplaced_errors,
)
from .models import Bundle, BundleVersion
from .schema import param_errors

FORM_ACTIONS = ("refresh", "validate", "add", "remove")


@login_required
def catalog(request):
    query = request.GET.get("q", "").strip()
    bundles = (
        Bundle.objects.annotate(
            live=Count("versions__deployments", filter=Q(versions__deployments__status="live"), distinct=True)
        )
        .filter(versions__isnull=False)
        .distinct()
    )
    if query:
        bundles = bundles.filter(Q(name__icontains=query) | Q(title__icontains=query) | Q(description__icontains=query))
    categories: dict[str, list] = {}
    for bundle in bundles.order_by("category", "title"):
        bundle.description_html = render_markdown(bundle.description)
        categories.setdefault(bundle.category or "Other", []).append(bundle)
    return render(request, "bundles/catalog.html", {"categories": categories, "query": query})


@login_required
def bundle_detail(request, name: str):
    bundle = get_object_or_404(Bundle, name=name)
    version = bundle.latest_version()
    fields = build_fields(version.params_schema, version.ui_schema, None) if version else []
    return render(
        request,
        "bundles/detail.html",
        {
            "upgrade_offer": _upgrade_offer(request, version),
            "bundle": bundle,
            "version": version,
            "versions": bundle.versions.all(),
            "fields": fields,
            "description_html": render_markdown(bundle.description),
            "runbook_html": render_markdown(version.runbook) if version else "",
        },
    )


def _upgrade_offer(request, version) -> dict | None:
    """For ops: how many deployments run an older version of this bundle (the bulk upgrade offer)."""
    from deployments.bulk import upgrade_candidates
    from portal.roles import is_ops

    if version is None or not is_ops(request.user):
        return None
    count = upgrade_candidates(version).count()
    return {"version": version, "count": count} if count else None


def form_state(deployment) -> dict:
    """What the engine needs to know about an existing deployment: its stored values and whether it has applied."""
    if deployment is None:
        return {"stored": None, "stored_secrets": set(), "lock_immutable": False}
    from deployments import secrets

    schema = deployment.bundle_version.params_schema
    present = set()
    for path in secrets.sensitive_paths(schema):
        node = deployment.params
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            present.add("".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in path))
    return {
        "stored": secrets.merge(deployment.params, deployment.sensitive_params),
        "stored_secrets": present,
        "lock_immutable": deployment.runs.filter(status="succeeded", action="apply").exists(),
    }


def problems_summary(errors: dict[str, list[str]]) -> str:
    """The verdict, the same one a submit would give."""
    count = sum(len(m) for m in errors.values())
    if not count:
        return "No problems found: this configuration is valid."
    return f"{count} problem{'s' if count != 1 else ''} to fix before this can be saved."


def _shown(errors: dict[str, list[str]], params: dict) -> dict[str, list[str]]:
    """After a re-render, show errors about values the user has entered, not about fields not reached yet."""
    shown = {}
    for where, messages in errors.items():
        node = params
        for part in where.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = None
                break
        if node is not None and where:
            shown[where] = messages
    return shown


def drawn_preset(request, bundle_version) -> str:
    """The preset the posted params were drawn from (a hidden field kept through redraws), if it is one."""
    name = request.POST.get("_drawn_preset", "")
    return name if name and bundle_version.preset(name) else ""


def _policy_view(request, bundle_version, deployment, params) -> tuple[dict, dict | None]:
    """The schema to draw and the policy's objections, as the deployment pages have them
    (``deployments.policy.form_view``), in the deployment's environment or the one picked."""
    from deployments import policy
    from deployments.selectors import environments_writable_by

    if deployment is not None:
        environment = deployment.environment
    else:
        raw = request.POST.get("environment", "")
        environment = environments_writable_by(request.user).filter(pk=int(raw)).first() if raw.isdigit() else None
    view = policy.form_view(
        environment=environment,
        bundle_version=bundle_version,
        deployment=deployment,
        outside=request.POST.get("outside_policy") == "1",
    )
    if environment is None or view.outside:
        return view.schema, None
    check = policy.check_params(environment=environment, bundle_version=bundle_version, params=params)
    return view.schema, check.errors


@login_required
@require_POST
def params_form(request, name: str, version: str, action: str):
    """The form engine's htmx endpoint: the posted form in, the re-drawn params (or one field) out.

    ``refresh`` follows a change to a field that controls a condition or a variant; ``add`` and
    ``remove`` change the rows of the array at ``_at``; ``validate`` checks the whole form and
    returns the changed field with its errors plus the overall verdict.
    """
    if action not in FORM_ACTIONS:
        raise Http404("No such form action.")
    bundle_version = get_object_or_404(
        BundleVersion.objects.select_related("bundle"), bundle__name=name, version=version
    )
    deployment = None
    if request.POST.get("_deployment"):
        from deployments.selectors import can_change_deployment, deployments_visible_to

        deployment = deployments_visible_to(request.user).filter(pk=request.POST["_deployment"]).first()
        if deployment is None or deployment.bundle_version_id != bundle_version.pk:
            raise Http404("No such deployment.")
        if not can_change_deployment(request.user, deployment):
            raise PermissionDenied("You can read this deployment but not change it.")
    state = form_state(deployment)
    schema, ui = bundle_version.params_schema, bundle_version.ui_schema
    params = parse_post(schema, request.POST, stored=state["stored"], lock_immutable=state["lock_immutable"])
    at = request.POST.get("_at", "")
    if action == "add":
        params = add_row(schema, params, at)
    elif action == "remove":
        params = remove_row(params, at)
    shown, policy_check = _policy_view(request, bundle_version, deployment, params)
    errors = param_errors(schema, params)
    if policy_check is not None:
        for where, messages in policy_check.items():
            errors[where] = [*errors.get(where, []), *(m for m in messages if m not in errors.get(where, []))]
    context = {
        "version": bundle_version,
        "deployment": deployment,
        "errors": errors,
        "params": params,
        "summary": problems_summary(errors),
        "preset_name": drawn_preset(request, bundle_version),
        **{f"{a}_url": reverse("bundles:form", args=[name, version, a]) for a in FORM_ACTIONS},
    }
    build = {"stored_secrets": state["stored_secrets"], "lock_immutable": state["lock_immutable"]}
    if action == "validate":
        trigger = find_field(build_fields(shown, ui, params, **build), request.headers.get("HX-Trigger-Name", ""))
        if trigger is not None:
            mine = {p: m for p, m in errors.items() if p == trigger.pointer or p.startswith(trigger.pointer + "/")}
            context["f"] = find_field(build_fields(shown, ui, params, mine, **build), trigger.name)
            return render(request, "bundles/form.html#field", {**context, "oob": True})
    fields = build_fields(shown, ui, params, _shown(errors, params), **build)
    context.update(fields=fields, root_errors=unplaced_errors(fields, _shown(errors, params)))
    return render(request, "bundles/form.html#params", context)
