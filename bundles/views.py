from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from jsonpointer import JsonPointer

from . import extensions
from .cost import form_line, priced_presets
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
    # Every category that has a bundle, for the filter links, whatever the search.
    all_categories = sorted({c or "Other" for c in bundles.values_list("category", flat=True)})
    category = request.GET.get("category", "")
    if category in all_categories:
        bundles = bundles.filter(category="" if category == "Other" else category)
    else:
        category = ""
    if query:
        bundles = bundles.filter(Q(name__icontains=query) | Q(title__icontains=query) | Q(description__icontains=query))
    categories: dict[str, list] = {}
    for bundle in bundles.order_by("category", "title"):
        bundle.description_html = render_markdown(bundle.description)
        categories.setdefault(bundle.category or "Other", []).append(bundle)
    context = {"categories": categories, "query": query, "category": category, "all_categories": all_categories}
    return render(request, "bundles/catalog.html", context)


@login_required
def bundle_detail(request, name: str):
    bundle = get_object_or_404(Bundle, name=name)
    version = bundle.latest_version()
    fields = build_fields(version.params_schema, version.ui_schema, None) if version else []
    return render(
        request,
        "bundles/detail.html",
        {
            "bundle": bundle,
            "version": version,
            "versions": bundle.versions.all(),
            "presets": priced_presets(version) if version else [],
            "fields": fields,
            "description_html": render_markdown(bundle.description),
            "runbook_html": render_markdown(version.runbook) if version else "",
            **extensions.detail_context(request, version),
        },
    )


def problems_summary(errors: dict[str, list[str]]) -> str:
    """The verdict, the same one a submit would give."""
    count = sum(len(m) for m in errors.values())
    if not count:
        return "No problems found: this configuration is valid."
    return f"{count} problem{'s' if count != 1 else ''} to fix before this can be saved."


def _shown(errors: dict[str, list[str]], params: dict) -> dict[str, list[str]]:
    """After a re-render, show errors about values the user has entered, not about fields not reached yet."""
    return {where: m for where, m in errors.items() if where and JsonPointer(where).resolve(params, None) is not None}


def drawn_preset(request, bundle_version) -> str:
    """The preset the posted params were drawn from (a hidden field kept through redraws), if it is one."""
    name = request.POST.get("_drawn_preset", "")
    return name if name and bundle_version.preset(name) else ""


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
    state = extensions.form_context(request, bundle_version)
    schema, ui = bundle_version.params_schema, bundle_version.ui_schema
    # A redraw gives what it opens (a condition now holding, a variant just chosen) its defaults.
    params = parse_post(
        schema,
        request.POST,
        stored=state.stored,
        lock_immutable=state.lock_immutable,
        fill_defaults=action != "validate",
        ui=ui,
    )
    at = request.POST.get("_at", "")
    if action == "add":
        params = add_row(schema, params, at)
    elif action == "remove":
        params = remove_row(params, at)
    shown, policy_check, policy_message = state.drawn(params)
    errors = param_errors(schema, params)
    # The verdict submit would give: the bundle's errors first; once there are none, the policy's sentence.
    summary = problems_summary(errors) if errors or not policy_message else policy_message
    if policy_check is not None:
        for where, messages in policy_check.items():
            errors[where] = [*errors.get(where, []), *(m for m in messages if m not in errors.get(where, []))]
    context = {
        "version": bundle_version,
        "deployment": state.deployment,
        "errors": errors,
        "params": params,
        "summary": summary,
        "preset_name": drawn_preset(request, bundle_version),
        "cost_line": form_line(bundle_version.monthly_estimate(params), state.current_cost),
        **{f"{a}_url": reverse("bundles:form", args=[name, version, a]) for a in FORM_ACTIONS},
    }
    build = {"stored_secrets": state.stored_secrets, "lock_immutable": state.lock_immutable}
    # The variants just chosen are drawn as chosen; after a removal the rows moved, and their selectors with them.
    build["posted"] = None if action == "remove" else request.POST
    if action == "validate":
        trigger = find_field(build_fields(shown, ui, params, **build), request.headers.get("HX-Trigger-Name", ""))
        if trigger is not None:
            mine = {p: m for p, m in errors.items() if p == trigger.pointer or p.startswith(trigger.pointer + "/")}
            context["f"] = find_field(build_fields(shown, ui, params, mine, **build), trigger.name)
            return render(request, "bundles/form.html#field", {**context, "oob": True})
    fields = build_fields(shown, ui, params, _shown(errors, params), **build)
    context.update(fields=fields, root_errors=unplaced_errors(fields, _shown(errors, params)))
    return render(request, "bundles/form.html#params", context)
