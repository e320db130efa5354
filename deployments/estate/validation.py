"""Validating many params sets at once, each validator compiled once: a bulk change's dry run.

The pass/fail pass is the compiled Rust engine's where its word is jsonschema's
(:func:`bundles.schema.fast.fast_validator`); jsonschema validates only the rest, once, and its errors
give the messages, exactly as a single submit words them, each failing property's worded once per distinct
value (:meth:`bundles.schema.fast.FastValidator.worded`)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bundles.models import BundleVersion
from bundles.schema import param_errors
from bundles.schema.fast import FastValidator, fast_validator

from ..costs.budget import monthly_added, over_budget
from ..models import Deployment, Environment, Policy
from ..policy.rules import PolicyCheck, kept_as_approved, not_allowed, with_overlay


@dataclass
class Verdict:
    errors: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not self.errors


class Validators:
    """Validate many params sets: one compiled validator per (bundle version, environment overlay), and the
    environments' policies read once."""

    def __init__(self, environment_ids=None):
        self._compiled: dict[tuple, tuple[dict, FastValidator]] = {}
        self._policies: dict[int, Policy | None] = {}
        self._pending: dict[int, Decimal] = {}  # per environment: what the targets found within budget add a month
        if environment_ids is not None:
            found = {p.environment_id: p for p in Policy.objects.filter(environment_id__in=set(environment_ids))}
            self._policies = {env_id: found.get(env_id) for env_id in set(environment_ids)}

    def _policy(self, environment: Environment) -> Policy | None:
        if environment.pk not in self._policies:
            self._policies[environment.pk] = Policy.objects.filter(environment=environment).first()
        return self._policies[environment.pk]

    def _validator(self, bundle_version: BundleVersion, overlay: dict) -> tuple[dict, FastValidator]:
        key = (bundle_version.pk, json.dumps(overlay, sort_keys=True) if overlay else "")
        found = self._compiled.get(key)
        if found is None:
            schema = with_overlay(bundle_version.params_schema, overlay)
            found = self._compiled[key] = (schema, fast_validator(schema))
        return found

    def check(
        self,
        *,
        environment: Environment,
        bundle_version: BundleVersion,
        params: Any,
        current: dict | None = None,
        expired: Collection[str] = (),
    ) -> Verdict:
        """``params`` against the bundle and the environment's policy; values outside the policy that
        ``current`` (the deployment's params) already holds are kept as approved, as submit keeps them."""
        if not isinstance(params, dict):
            return Verdict({"": ["The parameters must be a JSON object."]})
        policy = self._policy(environment)
        bundle_name = bundle_version.bundle.name
        if policy is not None and not policy.allows_bundle(bundle_name):
            return Verdict(not_allowed(bundle_name, environment))
        overlay = ((policy.overlays or {}).get(bundle_name) or {}) if policy is not None else {}
        schema, validator = self._validator(bundle_version, overlay)
        if validator.quick(params):
            return Verdict({})
        # Only the invalid ones pay for the friendly messages; they name the same JSON pointers as the form. Each
        # failing property's are worded once per distinct value (most invalid values fail alike).
        worded = validator.worded(params)
        if worded is not None:
            problems, parts = worded
            if not parts:
                return Verdict({})
            errors = param_errors(schema, params, problems=problems, parts=parts)
        else:
            try:
                found = list(validator.reference.iter_errors(params))
            except RecursionError:
                found = None  # param_errors says so in words
            if found == []:
                return Verdict({})
            errors = param_errors(schema, params, found=found)
        # Valid for the bundle, every error is the policy's: then the one "kept as approved" rule decides.
        if (
            overlay
            and current is not None
            and self._validator(bundle_version, {})[1].is_valid(params)
            and kept_as_approved(PolicyCheck(policy=policy, errors=errors), params, current, expired)
        ):
            return Verdict({})
        return Verdict(errors)

    def over_budget(
        self, *, environment: Environment, bundle_version: BundleVersion, params: dict, deployment: Deployment
    ) -> dict[str, list[str]]:
        """The budget's refusal as a single change gets it (``{"": [sentence]}``), or {} within budget. Targets of
        the same environment count together: each one found within budget adds to what the next one is held to."""
        policy = self._policy(environment)
        if policy is None or policy.monthly_budget is None:
            return {}
        pending = self._pending.get(environment.pk, Decimal(0))
        words = over_budget(
            policy=policy, bundle_version=bundle_version, params=params, deployment=deployment, pending=pending
        )
        if words:
            return {"": [words]}
        added = monthly_added(policy=policy, bundle_version=bundle_version, params=params, deployment=deployment)
        self._pending[environment.pk] = pending + added
        return {}
