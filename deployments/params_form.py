"""The deployment side of the params form: what a deployment stores, which environment's policy narrows
the form, who may edit. The form engine lives in ``bundles``; this is what ``deployments`` lends it
(see :mod:`bundles.extensions`), and what the new and edit pages use themselves."""

from __future__ import annotations

from django.http import Http404

from bundles.cost import Estimate
from bundles.extensions import FormContext
from portal.querysets import CHANGE, object_for

from . import secrets
from .choices import RunAction, RunStatus
from .connections.forms import posted_connections
from .connections.options import option_errors, schema_with_choices
from .models import Deployment, Environment
from .policy import rules as policy
from .policy.selectors import expired_exception_fields


def form_state(deployment: Deployment | None, schema: dict | None = None) -> FormContext:
    """What the form engine needs to know about an existing deployment: its stored values (secrets in clear,
    so a blank field keeps them), which secrets it stores, and whether ``x-immutable`` fields are locked."""
    if deployment is None:
        return FormContext(schema=schema or {})
    version_schema = deployment.bundle_version.params_schema
    return FormContext(
        schema=schema or version_schema,
        deployment=deployment,
        stored=secrets.merge(deployment.params, deployment.sensitive_params),
        stored_secrets=secrets.present(version_schema, deployment.params),
        lock_immutable=deployment.runs.filter(status=RunStatus.SUCCEEDED, action=RunAction.APPLY).exists(),
        current_cost=current_cost(deployment),
    )


def current_cost(deployment: Deployment | None) -> Estimate | None:
    """What the deployment costs a month now (its stored estimate), or None without one."""
    if deployment is None or deployment.monthly_cost is None:
        return None
    return Estimate(deployment.monthly_cost, deployment.cost_currency)


def environment_from(data, user):
    """The environment chosen in a form (``environment`` field), among those ``user`` may deploy to."""
    raw = data.get("environment") or ""
    return Environment.objects.actionable_by(user, CHANGE).filter(pk=int(raw)).first() if raw.isdigit() else None


def form_context(request, bundle_version) -> FormContext:
    """For the form engine's htmx endpoint: the deployment being edited (``_deployment``) or the environment
    picked, and the policy's view of the form there, as the deployment pages have it."""
    deployment = None
    if request.POST.get("_deployment"):
        deployment = object_for(request.user, Deployment.objects, action=CHANGE, pk=request.POST["_deployment"])
        if deployment.bundle_version_id != bundle_version.pk:
            raise Http404("No such deployment.")
    environment = deployment.environment if deployment else environment_from(request.POST, request.user)
    view = policy.form_view(
        environment=environment,
        bundle_version=bundle_version,
        deployment=deployment,
        outside=request.POST.get("outside_policy") == "1",
    )

    # Fields that take their choices from a connection offer what the producer picked in the form publishes.
    wiring = posted_connections(bundle_version, request.POST)
    if wiring is None:
        wiring = dict(deployment.connections or {}) if deployment is not None else {}
    schema = schema_with_choices(view.schema, environment=environment, version=bundle_version, wiring=wiring)

    def drawn(params: dict):
        # The live check says what submit will say, whether or not choices outside the policy are shown.
        if environment is None:
            return schema, None, ""
        check = policy.policy_verdict(
            environment=environment,
            bundle_version=bundle_version,
            params=params,
            current=deployment.full_params() if deployment is not None else None,
            expired=expired_exception_fields(deployment),
            deployment=deployment,
        )
        errors = {**check.errors}
        offered = option_errors(environment=environment, version=bundle_version, params=params, wiring=wiring)
        for where, messages in offered.items():
            errors[where] = [*errors.get(where, []), *messages]
        if not check.ok:
            return schema, errors, check.message()
        # What submit would say: a value its connection does not offer is refused.
        return schema, errors, " ".join(m for messages in offered.values() for m in messages)

    state = form_state(deployment, bundle_version.params_schema)
    state.policy = drawn
    return state
