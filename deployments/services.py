"""Writes for deployments: create, change, re-apply, destroy, reveal an output.

Every door (a page, the API, the CLI through the API, a restore, an approved exception, a bulk
change's rollout) changes a deployment's configuration through these functions, and each change
queues its run through :func:`deployments.runs.services.run_create`. What a run produces (the
deployment's status and outputs) is written by the runner (``runs.status``, ``runs.steps``). Runs,
policy decisions and bulk changes have their services in their own packages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from jsonpointer import JsonPointer

from bundles.forms import read_only_places
from bundles.models import BundleVersion
from bundles.schema import (
    human_value,
    immutable_values,
    only_increase_values,
    param_errors,
    pointer,
    read_only_values,
    same,
    starting_params,
    title,
)
from portal.actor import actor_user
from portal.crypto import decrypt
from portal.errors import Conflict, ParamsInvalid, ServiceError
from portal.events import record_event
from portal.history import record_change

from . import secrets
from .choices import DeploymentStatus, RunAction, RunStatus
from .connections.options import option_errors
from .connections.services import connections_resolve, destroy_check
from .models import Deployment, Environment, ExceptionRequest, Run
from .names import name_error
from .policy.rules import PolicyViolation, params_approve
from .policy.selectors import expired_exception_fields
from .runs.services import run_create

__all__ = [
    "ParamsInvalid",
    "PolicyViolation",
    "ServiceError",
    "changed_immutables",
    "deployment_create",
    "deployment_destroy",
    "deployment_plan",
    "deployment_reapply",
    "deployment_update",
    "immutable_errors",
    "known_secrets",
    "params_validate",
    "read_only_changes",
    "sensitive_output_reveal",
    "shrunk_values",
    "unmakeable_changes",
]
_MISSING = object()


def params_validate(*, bundle_version: BundleVersion, params: dict) -> None:
    """Raise ParamsInvalid unless ``params`` satisfy the bundle version's schema."""
    if not isinstance(params, dict):
        raise ParamsInvalid({"": ["The parameters must be a JSON object."]})
    errors = param_errors(bundle_version.params_schema, params)
    if errors:
        raise ParamsInvalid(errors)


def _approved(*, environment, bundle_version, params, exception, current=None, deployment=None) -> str:
    """Validate for the bundle, then the environment's policy (its budget too); the approval basis. Values an
    expired exception of ``deployment`` allowed are not kept as approved."""
    params_validate(bundle_version=bundle_version, params=params)
    return params_approve(
        environment=environment,
        bundle_version=bundle_version,
        params=params,
        exception=exception,
        current=current,
        expired=expired_exception_fields(deployment),
        deployment=deployment,
    )


def changed_immutables(schema: dict, current: dict, proposed: dict) -> dict[str, list[str]]:
    """Errors for each ``x-immutable`` value (wherever the schema puts it) that differs from ``current``
    in ``proposed``."""
    fixed = {m.pointer: m.schema for m in (*immutable_values(schema, current), *immutable_values(schema, proposed))}
    errors = {}
    for where, sub in fixed.items():
        old, new = JsonPointer(where).resolve(current, _MISSING), JsonPointer(where).resolve(proposed, _MISSING)
        if old != new:
            shown = "not set" if old is _MISSING else human_value(sub, old)
            errors[where] = [
                f"{title(sub, where.rsplit('/', 1)[-1])} cannot change after the first apply (it is {shown}). "
                "Create a new deployment to change it."
            ]
    return errors


def shrunk_values(schema: dict, current: dict, proposed: dict) -> dict[str, list[str]]:
    """Errors for each ``x-only-increase`` value that ``proposed`` makes smaller than ``current``: a lower
    number, or an enum value earlier in the enum's order (a smaller size). A value left out counts as its
    default."""
    errors = {}
    for match in only_increase_values(schema, current):
        where, sub, old = match.pointer, match.schema, match.value
        new = JsonPointer(where).resolve(proposed, _MISSING)
        if new is _MISSING:
            new = sub.get("default", _MISSING)
        if new is _MISSING or new == old:
            continue
        name = title(sub, where.rsplit("/", 1)[-1])
        if isinstance(sub.get("enum"), list) and old in sub["enum"] and new in sub["enum"]:
            smaller = sub["enum"].index(new) < sub["enum"].index(old)
        elif _is_number(old) and _is_number(new):
            smaller = new < old
        else:
            continue
        if smaller:
            errors[where] = [
                f"{name} can only increase: it is {human_value(sub, old)} now, and {human_value(sub, new)} "
                "would reduce it, which the module cannot do. Keep it, or choose a larger value."
            ]
    return errors


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def unmakeable_changes(schema: dict, current: dict, proposed: dict) -> dict[str, list[str]]:
    """Changes a deployment that has applied cannot take: ``x-immutable`` values changed, ``x-only-increase``
    values reduced. Every door (form, API, restore, bulk changes) asks this, through ``deployment_update``
    or the bulk dry run."""
    errors = changed_immutables(schema, current, proposed)
    for where, messages in shrunk_values(schema, current, proposed).items():
        errors[where] = [*errors.get(where, []), *messages]
    return errors


def read_only_changes(
    schema: dict, ui: dict, current: dict, proposed: dict, *, defaults: dict | None = None
) -> dict[str, list[str]]:
    """Errors for each read-only value (``readOnly: true`` in the schema, ``ui:readonly`` or ``ui:disabled`` in the
    ui) that ``proposed`` sets differently from ``current``, or, when ``defaults`` are given (a new deployment,
    a move to another version), from the bundle's default. The bundle sets these values; no door may."""
    places = {m.pointer: m.schema for m in (*read_only_values(schema, current), *read_only_values(schema, proposed))}
    for parts in (*read_only_places(ui, current), *read_only_places(ui, proposed)):
        places.setdefault(pointer(parts), {})
    errors = {}
    for where, sub in places.items():
        old, new = JsonPointer(where).resolve(current, _MISSING), JsonPointer(where).resolve(proposed, _MISSING)
        default = JsonPointer(where).resolve(defaults, _MISSING) if defaults is not None else _MISSING
        if same(new, old) or (new is not _MISSING and same(new, default)) or (new is _MISSING and old is _MISSING):
            continue
        kept = old if old is not _MISSING else default
        shown = "not set" if kept is _MISSING else human_value(sub, kept)
        name = title(sub, where.rsplit("/", 1)[-1] if where else "params")
        errors[where] = [f"{name} is read-only: the bundle sets it, so it stays {shown}."]
    return errors


def _read_only_check(*, bundle_version: BundleVersion, current: dict, params: dict, moved: bool = False) -> None:
    schema = bundle_version.params_schema
    known = starting_params(schema) if moved or not current else None
    errors = read_only_changes(schema, bundle_version.ui_schema or {}, current, params, defaults=known)
    if errors:
        raise ParamsInvalid(errors, "Read-only values cannot be changed.")


def immutable_errors(*, deployment: Deployment, params: dict, raise_them: bool = False) -> dict[str, list[str]]:
    """Changes ``params`` would make that the deployment cannot take now that it has applied once
    (``x-immutable`` changed, ``x-only-increase`` reduced); with ``raise_them``, raised as ParamsInvalid."""
    if not deployment.runs.filter(status=RunStatus.SUCCEEDED, action=RunAction.APPLY).exists():
        return {}
    errors = unmakeable_changes(deployment.bundle_version.params_schema, deployment.full_params(), params)
    if errors and raise_them:
        raise ParamsInvalid(errors, "Some changes cannot be made to a deployment that has been applied.")
    return errors


def name_check(*, environment: Environment, name: str) -> None:
    """Refuse a name already used in ``environment``, in any case: ``ABC`` and ``abc`` are one name."""
    taken = Deployment.objects.filter(environment=environment, name__iexact=name).values_list("name", "status").first()
    if taken is not None:
        same = "" if taken[0] == name else f" (as {taken[0]!r}: names are compared without regard to case)"
        if taken[1] == DeploymentStatus.DESTROYED:
            raise ServiceError(
                f"A deployment named {name!r} in {environment} was destroyed{same}; its page offers to redeploy it "
                "with its last configuration. Choose another name for a new one.",
                field="name",
            )
        raise ServiceError(f"A deployment named {name!r} already exists in {environment}{same}.", field="name")


def known_secrets(deployment: Deployment) -> Iterable[bytes | None]:
    """Every encrypted secret Slipway still holds for ``deployment``: its own, and each run's snapshot (a
    restored configuration may carry the mask of a secret changed since)."""
    yield deployment.sensitive_params
    yield from deployment.runs.exclude(sensitive_params=None).values_list("sensitive_params", flat=True)


def _options_check(*, environment: Environment, bundle_version: BundleVersion, params: dict, wired: dict) -> None:
    """Refuse a value of an ``x-options-from`` field that the producer connected to it does not offer now."""
    errors = option_errors(environment=environment, version=bundle_version, params=params, wiring=wired)
    if errors:
        raise ParamsInvalid(errors, "Some values are not among the choices their connection offers.")


def _apply(deployment: Deployment, actor, *, channel: str, reason: str, auto_apply: bool, basis: str) -> Run:
    """Queue the apply that makes the deployment's configuration real, on the basis it was approved on."""
    return run_create(
        deployment=deployment,
        action=RunAction.APPLY,
        actor=actor,
        channel=channel,
        reason=reason,
        auto_apply=auto_apply,
        approval_basis=basis[:255],  # the column's size; the history row keeps the whole sentence
    )


@transaction.atomic
def deployment_create(
    *,
    environment: Environment,
    name: str,
    bundle_version: BundleVersion,
    params: dict,
    actor,
    channel: str = "ui",
    reason: str = "",
    auto_apply: bool = True,
    exception: ExceptionRequest | None = None,
    connections: dict | None = None,
    basis_note: str = "",
) -> Deployment:
    """Create a deployment and queue its first apply (or a plan for review when ``auto_apply`` is off).

    ``connections`` names the producer of each of the version's connections (by deployment id or name); a
    connection left out takes the environment's default when the bundle says so. ``basis_note`` says why it is
    created, before what approved it ("promoted from checkout/staging/web by dev; approved by policy ...").
    """
    if message := name_error(name):
        raise ServiceError(message, field="name")
    params = secrets.unmask(bundle_version.params_schema, params, lambda: ())  # a mask here stands for nothing held
    _read_only_check(bundle_version=bundle_version, current={}, params=params)
    basis = _approved(environment=environment, bundle_version=bundle_version, params=params, exception=exception)
    if basis_note:
        basis = f"{basis_note}; {basis}"
    name_check(environment=environment, name=name)
    wired = connections_resolve(environment=environment, bundle_version=bundle_version, requested=connections)
    _options_check(environment=environment, bundle_version=bundle_version, params=params, wired=wired)
    deployment = Deployment(
        environment=environment,
        name=name,
        bundle_version=bundle_version,
        status=DeploymentStatus.DEPLOYING,
        connections=wired,
        created_by=actor_user(actor),
        **secrets.stored(bundle_version.params_schema, params),
    )
    deployment.full_clean(exclude=["sensitive_outputs", "sensitive_params", "created_by"])
    record_change(deployment, channel=channel, actor=actor, basis=basis, note=reason or "created")
    try:
        with transaction.atomic():
            deployment.save()
    except IntegrityError as exc:  # a concurrent create of the same name won the race
        name_check(environment=environment, name=name)
        raise ServiceError(f"A deployment named {name!r} was just created in {environment}.", field="name") from exc
    _apply(deployment, actor, channel=channel, reason=reason, auto_apply=auto_apply, basis=basis)
    return deployment


@transaction.atomic
def deployment_update(
    *,
    deployment: Deployment,
    params: dict,
    actor,
    channel: str = "ui",
    reason: str = "",
    expected_version: int | None = None,
    auto_apply: bool = True,
    exception: ExceptionRequest | None = None,
    bundle_version: BundleVersion | None = None,
    basis_note: str = "",
    connections: dict | None = None,
) -> Run:
    """Change a deployment's params (and optionally move it to another version of its bundle, or change its
    connections: ``{name: producer}``, names left out keep theirs) and queue the apply that makes them real.

    ``expected_version`` is the optimistic lock: a form rendered from version N is refused if
    someone else saved N+1 meanwhile, instead of silently overwriting their change. Masks in
    ``params`` (an API client sending back what it read, a restored configuration) stand for the
    secrets they mask. ``basis_note`` says why the change was made in the approval basis, before what
    approved it (accepting drift: "accepted drift #12; approved by policy ...").
    """
    locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if locked.status in (DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED):
        raise Conflict(f"{locked.name} is {locked.get_status_display().lower()}; it cannot be changed.")
    if expected_version is not None and locked.version != expected_version:
        raise Conflict(
            f"{locked.name} was changed by someone else while you were editing (version {expected_version} "
            f"is now {locked.version}). Reload to see their change."
        )
    if bundle_version is not None and bundle_version.bundle_id != locked.bundle_version.bundle_id:
        raise ServiceError(f"{bundle_version} is not a version of {locked.bundle_version.bundle.name}.")
    target = bundle_version or locked.bundle_version
    params = secrets.unmask(target.params_schema, params, lambda: known_secrets(locked))
    _read_only_check(
        bundle_version=target, current=locked.full_params(), params=params, moved=target != locked.bundle_version
    )
    immutable_errors(deployment=locked, params=params, raise_them=True)
    basis = _approved(
        environment=locked.environment,
        bundle_version=target,
        params=params,
        exception=exception,
        current=locked.full_params(),
        deployment=locked,
    )
    if basis_note:
        basis = f"{basis_note}; {basis}"
    wired = connections_resolve(
        environment=locked.environment, bundle_version=target, requested=connections, deployment=locked
    )
    _options_check(environment=locked.environment, bundle_version=target, params=params, wired=wired)
    locked.bundle_version = target
    locked.connections = wired
    locked.params, locked.sensitive_params = secrets.split(target.params_schema, params)
    locked.version += 1
    locked.status = DeploymentStatus.DEPLOYING
    record_change(locked, channel=channel, actor=actor, basis=basis, note=reason)
    locked.save()
    deployment.refresh_from_db()
    return _apply(locked, actor, channel=channel, reason=reason, auto_apply=auto_apply, basis=basis)


@transaction.atomic
def deployment_reapply(
    *, deployment: Deployment, actor, channel: str = "ui", reason: str = "", auto_apply=True, revive: bool = False
) -> Run:
    """Apply the deployment's current configuration again (after a failure, or to correct drift).

    ``revive``: a destroyed deployment is created again from its configuration (an environment deployed
    again after its teardown); otherwise a destroyed one is refused.
    """
    refused = (DeploymentStatus.DESTROYING,) if revive else (DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED)
    if deployment.status in refused:
        raise ServiceError(f"{deployment.name} is {deployment.get_status_display().lower()}; it cannot be applied.")
    current = deployment.full_params()
    basis = _approved(
        environment=deployment.environment,
        bundle_version=deployment.bundle_version,
        params=current,
        exception=None,
        # A draft (a fork's copy) was never approved here: its values meet this environment's policy afresh,
        # none is "kept as approved".
        current=None if deployment.status == DeploymentStatus.DRAFT else current,
        deployment=deployment,
    )
    if deployment.status == DeploymentStatus.DRAFT:
        # Nor its choices from a connection: a fork's copy holds the source environment's picks (its network's
        # subnets), which the producers it is wired to here may not offer.
        _options_check(
            environment=deployment.environment,
            bundle_version=deployment.bundle_version,
            params=current,
            wired=deployment.connections or {},
        )
    if deployment.status == DeploymentStatus.DESTROYED:
        deployment.status = DeploymentStatus.DEPLOYING
        record_change(deployment, channel=channel, actor=actor, basis=basis, note=reason or "deployed again")
        deployment.save(update_fields=["status", "updated_at"])
    return _apply(deployment, actor, channel=channel, reason=reason, auto_apply=auto_apply, basis=basis)


def deployment_plan(
    *, deployment: Deployment, actor, channel: str = "ui", reason: str = "", proposed: tuple | None = None
) -> Run:
    """Plan the current configuration without applying it; or, with ``proposed`` = (bundle version, params in
    clear), a configuration the deployment does not have (a bulk change's dry run), leaving it unchanged."""
    version, params = proposed or (None, None)
    said = {"actor": actor, "channel": channel, "reason": reason, "auto_apply": proposed is None}
    return run_create(deployment=deployment, action=RunAction.PLAN, bundle_version=version, params=params, **said)


def deployment_destroy(*, deployment: Deployment, actor, channel: str = "ui", reason: str = "") -> Run:
    """Queue the destruction of everything the deployment created."""
    if deployment.status == DeploymentStatus.DESTROYED:
        raise Conflict(f"{deployment.name} is already destroyed.")
    destroy_check(deployment)
    return run_create(deployment=deployment, action=RunAction.DESTROY, actor=actor, channel=channel, reason=reason)


def sensitive_output_reveal(*, deployment: Deployment, name: str, actor, channel: str = "ui"):
    """Return one sensitive output in clear, and record that this person saw it."""
    stored = json.loads(decrypt(bytes(deployment.sensitive_outputs))) if deployment.sensitive_outputs else {}
    if name not in stored:
        raise ServiceError(f"{deployment.name} has no sensitive output {name!r}.")
    record_event(event_type="secret.revealed", actor=actor, target=deployment, channel=channel, data={"output": name})
    return stored[name]
