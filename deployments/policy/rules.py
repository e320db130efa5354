"""Environment policy: what an environment allows, and what the form and the runner make of it.

The **effective schema** of a deployment is its bundle version's params schema with the
environment's overlay for that bundle added under ``allOf``: jsonschema validates against it, so
it has the final say. The **form schema** is the bundle schema with the overlay folded in where a
form can show it (fewer enum options, tighter bounds, fixed values), plus hints in plain words.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from bundles.models import BundleVersion
from bundles.schema import option_label
from bundles.schema.fast import param_errors_quickly
from portal.errors import ParamsInvalid
from portal.history import record_change

from ..costs.budget import over_budget
from ..models import Deployment, Environment, ExceptionRequest, Policy, default_gated_actions


def default_policy_follows_tier(sender, instance: Environment, created: bool, raw: bool = False, **kwargs) -> None:
    """``post_save`` of Environment. A new environment starts with its tier's default policy, so the
    policy's history begins with the environment (and with whoever created it), not with the first
    developer whose request happened to need it. While nobody has edited that default, it follows
    the tier: an environment made production later gets production's gates."""
    if raw:
        return
    tier, wanted = instance.get_tier_display(), default_gated_actions(instance.tier)
    policy = None if created else Policy.objects.filter(environment=instance).first()
    if policy is None:
        policy = Policy(environment=instance, gated_actions=wanted)
        record_change(policy, note=f"the default policy of a new {tier} environment")
    elif policy.version == 1 and policy.gated_actions != wanted:  # the untouched default of another tier
        policy.gated_actions = wanted
        record_change(policy, note=f"the default policy follows the environment's tier: {tier}")
    else:
        return
    policy.save()
    instance._policy_cache = None


def policy_for(environment: Environment) -> Policy:
    """The environment's policy. Every environment gets one when it is created; for one that somehow has
    none, the tier's default (unsaved: reading a page writes nothing)."""
    policy = getattr(environment, "_policy_cache", None)
    if policy is None:
        policy = Policy.objects.filter(environment=environment).first() or Policy(
            environment=environment, gated_actions=default_gated_actions(environment.tier)
        )
        environment._policy_cache = policy
    return policy


def overlay_for(environment: Environment, bundle_version: BundleVersion) -> dict:
    return (policy_for(environment).overlays or {}).get(bundle_version.bundle.name) or {}


def with_overlay(schema: dict, overlay: dict) -> dict:
    """A bundle's schema with a policy overlay added under ``allOf`` (``$defs`` stay at the root)."""
    return {**schema, "allOf": [*(schema.get("allOf") or []), overlay]} if overlay else schema


def effective_schema(*, environment: Environment, bundle_version: BundleVersion) -> dict:
    """The bundle's schema with the environment's overlay: what jsonschema validates a change against."""
    return with_overlay(bundle_version.params_schema, overlay_for(environment, bundle_version))


def not_allowed(bundle_name: str, environment: Environment) -> dict[str, list[str]]:
    return {"": [f"{bundle_name} is not in the allowed bundles of {environment}."]}


@dataclass
class PolicyCheck:
    """The verdict on params that already satisfy the bundle."""

    policy: Policy
    errors: dict[str, list[str]] = field(default_factory=dict)
    bundle_allowed: bool = True
    kept: list[str] = field(default_factory=list)  # out of policy, but kept as approved before
    budget: str = ""  # why the change is held for the environment's monthly budget ("" when it is not)

    @property
    def ok(self) -> bool:
        return self.bundle_allowed and not self.errors

    @property
    def fields(self) -> list[str]:
        """Top-level params the policy objects to (and ``(budget)`` for a change over the budget): what the
        exception backlog counts."""
        names = sorted({p.split("/")[1] for p in self.errors if p.startswith("/")})
        return [*names, BUDGET] if self.budget else names

    def message(self) -> str:
        where = f"{self.policy.environment} (policy v{self.policy.version})"
        if not self.bundle_allowed:
            return f"This bundle is not allowed in {where}."
        if self.budget and set(self.errors) == {""}:
            return self.budget
        return f"These params are outside the policy of {where}. Change them, or request an exception."


class PolicyViolation(ParamsInvalid):
    """Params the bundle accepts but the environment's policy does not; they need an exception."""

    def __init__(self, check: PolicyCheck):
        self.check = check
        super().__init__(check.errors, check.message())


BUDGET = "(budget)"


def check_params(
    *, environment: Environment, bundle_version: BundleVersion, params: dict, deployment: Deployment | None = None
) -> PolicyCheck:
    """The policy's verdict on params: the bundle allowed, the overlay satisfied, and the environment's monthly
    budget kept (``deployment`` is the one being changed, whose cost now is replaced by the new one)."""
    policy = policy_for(environment)
    if not policy.allows_bundle(bundle_version.bundle.name):
        return PolicyCheck(
            policy=policy, bundle_allowed=False, errors=not_allowed(bundle_version.bundle.name, environment)
        )
    overlay = overlay_for(environment, bundle_version)
    errors = (
        param_errors_quickly(effective_schema(environment=environment, bundle_version=bundle_version), params)
        if overlay
        else {}
    )
    budget = over_budget(policy=policy, bundle_version=bundle_version, params=params, deployment=deployment)
    if budget:
        errors[""] = [*errors.get("", []), budget]
    return PolicyCheck(policy=policy, errors=errors, budget=budget)


def params_approve(
    *,
    environment: Environment,
    bundle_version: BundleVersion,
    params: dict,
    exception: ExceptionRequest | None,
    current: dict | None = None,
    expired: Collection[str] = (),
    deployment: Deployment | None = None,
) -> str:
    """Validate params for the environment's policy (they already satisfy the bundle); return the approval basis.

    In-policy params are approved by the policy itself. Anything else needs an approved exception,
    except values that stay as they are: an exception granted once is not undone by the next,
    unrelated change (``current`` holds the deployment's params before this change).
    """
    check = check_params(environment=environment, bundle_version=bundle_version, params=params, deployment=deployment)
    if check.ok:
        return f"approved by policy {check.policy.label}"
    if exception is not None and exception.status == ExceptionRequest.Status.APPROVED:
        return f"approved by exception #{exception.pk} ({exception.decided_by_name})"
    if kept_as_approved(check, params, current, expired):
        return f"approved by policy {check.policy.label}; kept as approved before: {', '.join(check.fields)}"
    raise PolicyViolation(check)


def kept_as_approved(check: PolicyCheck, params: dict, current: dict | None, expired: Collection[str] = ()) -> bool:
    """The one rule for "kept as approved": every value the policy objects to is the value the deployment
    already has (``current``), so an exception granted once is not undone by an unrelated change. Submit,
    the form's live check and the bulk dry run all ask it. A field whose exception has expired
    (``expired``, from ``selectors.expired_exception_fields``) is out of policy again: never kept."""
    if current is None or not check.bundle_allowed or not check.fields or "" in check.errors:
        return False
    if set(check.fields) & set(expired):
        return False
    return all(params.get(name) == current.get(name) for name in check.fields)


def policy_verdict(
    *,
    environment: Environment,
    bundle_version: BundleVersion,
    params: dict,
    current: dict | None = None,
    expired: Collection[str] = (),
    deployment: Deployment | None = None,
) -> PolicyCheck:
    """What submitting ``params`` (valid for the bundle) would meet in the policy: no errors when in policy
    or kept as approved (``kept`` names those fields), else the errors and the sentence submit says."""
    check = check_params(environment=environment, bundle_version=bundle_version, params=params, deployment=deployment)
    if not check.ok and kept_as_approved(check, params, current, expired):
        return PolicyCheck(policy=check.policy, kept=check.fields)
    return check


def needs_person(*, environment: Environment, summary: dict) -> list[str]:
    """The plan actions in ``summary`` that this environment's policy sends to ops."""
    gated = policy_for(environment).gated_actions or []
    return [action for action in gated if summary.get(action)]


# --- The form's view of the policy ---------------------------------------------------------


def _label(schema: dict, value: Any) -> str:
    label = option_label(schema, value)
    if label is not None:
        return label
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _tighten(prop: dict, rule: dict, env_name: str) -> tuple[dict, list[str]]:
    """Fold one overlay property rule into a bundle property; return it with the hints it earns."""
    prop = copy.deepcopy(prop)
    title = prop.get("title") or "This field"
    unit = f" {prop['x-unit']}" if prop.get("x-unit") else ""
    hints = []
    if "const" in rule:
        value = rule["const"]
        prop["default"] = value
        if prop.get("type") == "boolean":
            hints.append(
                f"{env_name} requires {title.lower()}." if value else f"{env_name} does not allow {title.lower()}."
            )
        else:
            hints.append(f"{env_name} requires {title}: {_label(prop, value)}.")
        if "enum" in prop:
            prop["enum"] = [v for v in prop["enum"] if v == value]
    if "enum" in rule:
        allowed = [v for v in rule["enum"] if "enum" not in prop or v in prop["enum"]]
        if "enum" in prop:
            prop["enum"] = allowed
        for key in ("oneOf", "anyOf"):
            if prop.get(key) and all(isinstance(v, dict) and "const" in v for v in prop[key]):
                prop[key] = [v for v in prop[key] if v["const"] in allowed]
        hints.append(f"{env_name} allows only these for {title}: {', '.join(_label(prop, v) for v in allowed)}.")
        if prop.get("default") not in allowed and allowed:
            prop["default"] = allowed[0]
    for key, word, pick in (("minimum", "at least", max), ("maximum", "at most", min)):
        if key in rule:
            prop[key] = pick(prop[key], rule[key]) if key in prop else rule[key]
            hints.append(f"{env_name} requires {title}: {word} {prop[key]}{unit}.")
            if isinstance(prop.get("default"), (int, float)):
                prop["default"] = (
                    max(prop["default"], prop[key]) if key == "minimum" else min(prop["default"], prop[key])
                )
    return prop, hints


@dataclass(frozen=True)
class FormView:
    """What a params form draws in an environment, and whether the policy's rules count in it."""

    schema: dict
    hints: list[str]
    outside: bool  # choices outside the policy are drawn on purpose; its rules are not checked live


def form_view(
    *,
    environment: Environment | None,
    bundle_version: BundleVersion,
    deployment: Deployment | None = None,
    outside: bool = False,
) -> FormView:
    """The one rule every params form follows (new, edit, and their htmx redraws): the environment's
    policy narrows what is drawn, unless the developer asked for choices outside it (an exception)
    or the deployment already holds values approved outside it, which must stay visible to be kept."""
    schema = bundle_version.params_schema
    if environment is None:  # no policy yet: the whole schema
        return FormView(schema, [], outside=outside)
    shown, hints = form_schema(environment=environment, bundle_version=bundle_version)
    if deployment is not None and not (
        check_params(
            environment=environment,
            bundle_version=bundle_version,
            params=deployment.full_params(),
            deployment=deployment,
        ).ok
    ):
        kept = "This deployment has values outside the policy, approved before: they stay as they are."
        return FormView(schema, [*hints, kept], outside=True)
    return FormView(schema if outside else shown, hints, outside=outside)


def form_schema(*, environment: Environment, bundle_version: BundleVersion) -> tuple[dict, list[str]]:
    """The schema the form draws (options the environment forbids are not offered, bounds tightened)
    and the hints that say why."""
    schema = bundle_version.params_schema
    overlay = overlay_for(environment, bundle_version)
    if not overlay:
        return schema, []
    schema = copy.deepcopy(schema)
    hints: list[str] = []
    env_name = str(environment)  # the place as every page names it: checkout/proto
    properties = schema.get("properties") or {}
    for name, rule in (overlay.get("properties") or {}).items():
        if name in properties and isinstance(rule, dict):
            properties[name], found = _tighten(properties[name], rule, env_name)
            if found:
                text = " ".join(found)
                properties[name]["description"] = (properties[name].get("description", "") + f"\n\n**{text}**").strip()
                hints += found
    for name in overlay.get("required") or []:
        if name in properties and name not in (schema.get("required") or []):
            schema["required"] = [*(schema.get("required") or []), name]
            if name not in (overlay.get("properties") or {}):  # a rule on the value already says it
                hints.append(f"{env_name} requires {properties[name].get('title') or name} to be set.")
    return schema, hints
