"""Promote: take a deployment's configuration (or every deployment's) from one environment to another, through
the target's policy.

For each deployment of the source (producers first) the target's deployment of the same name (without regard to
case) is given the source's bundle version, its params and its connections re-pointed to the target's
deployments of the producers' names, by the one change path every door uses (``deployment_update``): the same
validation, budget, ``x-only-increase``/``x-immutable`` checks, exceptions and run. In what the target keeps:

- a value the bundle marks ``x-copyable: false`` (a secret, a globally unique name) is never copied: the target
  keeps its own value (or, when it has none, stays without);
- a change within the target's policy goes through with the basis ``promoted from <project>/<env>/<deployment>
  by <user>``; one outside it becomes an exception request with that reason (ops decide; approving it makes the
  change, connections and version included); one the bundle or the module refuses (a value that may only
  increase, an immutable value, a connection that cannot be made) is refused, in words, and nothing is asked;
- a deployment the target does not have is **created** there through the same create path (``deployment_create``
  or, outside the policy, an exception request for a new deployment), its ``x-copyable: false`` values generated
  when the bundle gives an ``x-generate`` rule and otherwise left to the bundle's default. A new deployment whose
  producer is new too cannot connect before that producer has applied: it is refused, saying so, and promoting
  again once the producer is live creates it.

:func:`promote_plan` says all this before anything is done (the review page, ``GET .../promote/``, the CLI),
with a fingerprint; :func:`environment_promote` does it, refusing when the plan changed since it was reviewed.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from jsonpointer import resolve_pointer

from bundles.cost import change_words
from bundles.display import absent_value, params_rows
from bundles.schema import starting_params, uncopyable_values
from bundles.schema.fast import param_errors_quickly
from portal.actor import actor_name
from portal.errors import Conflict, ParamsInvalid, ServiceError
from portal.events import record_event
from portal.querysets import CHANGE

from ..choices import DeploymentStatus
from ..connections.services import connections_resolve
from ..models import Deployment, Environment
from ..params_form import current_cost
from ..policy.rules import PolicyViolation, policy_verdict
from ..policy.selectors import expired_exception_fields
from ..policy.services import exception_request_create
from ..services import deployment_create, deployment_update, immutable_errors, read_only_changes
from .fork import _remove, _set, generate_uncopied, sources

UNCHANGED = "unchanged"  # the target already has this configuration
IN_POLICY = "in_policy"  # the change goes through (approved by the target's policy)
EXCEPTION = "needs_exception"  # outside the target's policy: an exception request is made
REFUSED = "refused"  # cannot be made at all (the reason says why); nothing is asked

VERDICT_WORDS = {
    UNCHANGED: "Already the same",
    IN_POLICY: "Within the policy",
    EXCEPTION: "Needs an exception",
    REFUSED: "Cannot be promoted",
}


@dataclass
class ValueChange:
    """One param of the target before and after (as the deployment page shows values; secrets never shown)."""

    pointer: str
    label: str
    before: str
    after: str
    sensitive: bool = False


@dataclass
class ConnectionChange:
    name: str
    title: str
    before: str
    after: str


@dataclass
class PromoteStep:
    """What promoting one deployment does to the target."""

    name: str
    source: Deployment
    target: Deployment | None  # None: it is created
    verdict: str = UNCHANGED
    params: dict = field(default_factory=dict, repr=False)  # the target's params after, in clear: never shown
    connections: dict[str, str] = field(default_factory=dict)  # connection -> producer name in the target ("" none)
    changes: list[ValueChange] = field(default_factory=list)
    connection_changes: list[ConnectionChange] = field(default_factory=list)
    version_before: str = ""
    version_after: str = ""
    kept: list[str] = field(default_factory=list)  # x-copyable: false values the target keeps
    generated: list[str] = field(default_factory=list)  # x-copyable: false values made by x-generate (a new one)
    problems: dict[str, list[str]] = field(default_factory=dict)  # why it needs an exception, or is refused
    message: str = ""
    cost: str = ""  # what it adds to or saves from a month, when the bundle has a cost model

    @property
    def creates(self) -> bool:
        return self.target is None

    @property
    def verdict_words(self) -> str:
        return VERDICT_WORDS[self.verdict]

    def as_data(self) -> dict:
        return {
            "name": self.name,
            "action": "create" if self.creates else "change",
            "verdict": self.verdict,
            "message": self.message,
            "version": {"before": self.version_before, "after": self.version_after},
            "params": [
                {"pointer": c.pointer, "label": c.label, "before": c.before, "after": c.after, "sensitive": c.sensitive}
                for c in self.changes
            ],
            "connections": [
                {"name": c.name, "title": c.title, "before": c.before, "after": c.after}
                for c in self.connection_changes
            ],
            "kept": self.kept,
            "generated": self.generated,
            "problems": self.problems,
            "cost": self.cost,
        }


@dataclass
class PromotePlan:
    source: Environment
    target: Environment
    steps: list[PromoteStep]
    only_deployment: str = ""

    @property
    def fingerprint(self) -> str:
        """Changes when anything the plan would do changes: the confirmation carries it, so what is done is what
        was reviewed. An HMAC under SECRET_KEY, since the params hashed may hold secrets."""
        body = [
            {
                "name": s.name,
                "target": s.target.pk.hex if s.target else "",
                "target_version": s.target.version if s.target else 0,
                "verdict": s.verdict,
                "version": s.version_after,
                "params": _without(s.params, s.generated),  # generated anew each time: not part of what is reviewed
                "connections": s.connections,
            }
            for s in self.steps
        ]
        text = json.dumps(body, sort_keys=True, default=str).encode()
        return hmac.new(settings.SECRET_KEY.encode(), b"promote:" + text, hashlib.sha256).hexdigest()[:20]

    @property
    def to_do(self) -> list[PromoteStep]:
        return [s for s in self.steps if s.verdict in (IN_POLICY, EXCEPTION)]

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for s in self.steps if s.verdict == v) for v in VERDICT_WORDS}

    def as_data(self) -> dict:
        return {
            "source": str(self.source),
            "target": str(self.target),
            "deployment": self.only_deployment or None,
            "plan": self.fingerprint,
            "counts": self.counts(),
            "deployments": [s.as_data() for s in self.steps],
        }


def _without(params: dict, places: list[str]) -> dict:
    kept = copy.deepcopy(params)
    for where in sorted(places, key=len, reverse=True):
        _remove(kept, where)
    return kept


@dataclass
class PromoteOutcome:
    name: str
    outcome: str  # changed, created, exception, refused, unchanged
    message: str
    run: int | None = None
    exception: int | None = None
    deployment: str | None = None  # the target deployment's id

    def as_data(self) -> dict:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "message": self.message,
            "run": self.run,
            "exception": self.exception,
            "deployment": self.deployment,
        }


def promote_access(*, actor, source: Environment, target: Environment) -> None:
    """The one rule for every door: the source must be visible to the actor, the target changeable by them."""
    if not Environment.objects.visible_to(actor).filter(pk=source.pk).exists():
        raise PermissionDenied(f"You cannot see {source}.")
    if not Environment.objects.actionable_by(actor, CHANGE).filter(pk=target.pk).exists():
        raise PermissionDenied(f"You cannot change {target}, so you cannot promote to it.")
    if source.pk == target.pk:
        raise ServiceError("Promote to another environment: the source and the target are the same.", field="target")


def basis_of(source: Deployment, actor) -> str:
    return f"promoted from {source.environment}/{source.name} by {actor_name(actor)}"


def _target_deployments(target: Environment) -> dict[str, Deployment]:
    rows = Deployment.objects.filter(environment=target).select_related("bundle_version__bundle", "environment")
    found: dict[str, Deployment] = {}
    for d in rows.order_by("created_at"):  # a destroyed one counts unless a live one of the name came after it
        found[d.name.lower()] = d
    return found


def promote_plan(*, source: Environment, target: Environment, deployment: str = "") -> PromotePlan:
    """What promoting ``source`` (or only its deployment named ``deployment``) to ``target`` would do, deployment
    by deployment, producers first, in the words submitting would use. Reads only."""
    originals = sources(source)
    if deployment:
        originals = [d for d in originals if d.name.lower() == deployment.lower()]
        if not originals:
            raise ServiceError(f"{source} has no deployment {deployment!r} to promote.", field="deployment")
    theirs = _target_deployments(target)
    names = dict(Deployment.objects.filter(environment__in=(source, target)).values_list("pk", "name").iterator())
    names = {str(k): v for k, v in names.items()}
    created = {d.name.lower() for d in originals if d.name.lower() not in theirs}
    steps = [_step(o, theirs.get(o.name.lower()), target, names, created) for o in originals]
    return PromotePlan(source, target, steps, only_deployment=originals[0].name if deployment else "")


def _proposed(original: Deployment, current: Deployment | None) -> tuple[dict, list[str], list[str]]:
    """The target's params after: the source's, except ``x-copyable: false`` values, which the target keeps (or,
    for a new deployment, are generated by the bundle's rule). Returns (params in clear, kept, generated)."""
    schema = original.bundle_version.params_schema
    source = original.full_params()
    params = copy.deepcopy(source)
    dropped = [m.pointer for m in uncopyable_values(schema, source)]
    for where in sorted(dropped, key=len, reverse=True):
        _remove(params, where)
    if current is None:
        return params, [], generate_uncopied(schema, source, params, dropped)
    kept = uncopyable_values(schema, current.full_params())
    for match in sorted(kept, key=lambda m: len(m.pointer)):
        if resolve_pointer(params, match.pointer, _ABSENT) is _ABSENT:
            _set(params, match.pointer, copy.deepcopy(match.value))
    return params, sorted({*dropped, *(m.pointer for m in kept)}), []


_ABSENT = object()


def _step(original, current, target, names, created) -> PromoteStep:
    step = PromoteStep(name=original.name, source=original, target=current)
    version = original.bundle_version
    step.version_after = str(version.version)
    if current is not None:
        step.version_before = str(current.bundle_version.version)
        if current.bundle_version.bundle_id != version.bundle_id:
            return _refuse(
                step,
                f"{target}/{current.name} is a {current.bundle_version.bundle.name}, not a {version.bundle.name}: "
                "promote cannot change what a deployment is.",
            )
        if current.status in (DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED):
            return _refuse(
                step,
                f"{target}/{current.name} is {current.get_status_display().lower()}: deploy it again there first.",
            )
    params, step.kept, step.generated = _proposed(original, current)
    step.params = params
    step.connections = {
        c["name"]: names.get((original.connections or {}).get(c["name"], ""), "") for c in version.connections
    }
    _describe(step, current, version, names)
    if current is not None and not step.changes and not step.connection_changes and not _moves(step):
        step.message = f"{target}/{current.name} already has this configuration."
        return step
    return _verdict(step, current, target, version, created)


def _moves(step: PromoteStep) -> bool:
    return step.target is not None and step.target.bundle_version_id != step.source.bundle_version_id


def _describe(step: PromoteStep, current, version, names) -> None:
    """The rows the review shows: each param and connection before and after, and the cost difference."""
    schema = version.params_schema
    before_params = current.full_params() if current is not None else {}
    before_schema = current.bundle_version.params_schema if current is not None else schema
    before = {r.pointer: r for r in params_rows(before_schema, before_params)}
    after = {r.pointer: r for r in params_rows(schema, step.params)}
    for where in [*before, *(p for p in after if p not in before)]:
        old, new = resolve_pointer(before_params, where, _ABSENT), resolve_pointer(step.params, where, _ABSENT)
        if old == new:
            continue
        row_a, row_b = before.get(where), after.get(where)
        sensitive = bool((row_a and row_a.sensitive) or (row_b and row_b.sensitive))
        step.changes.append(
            ValueChange(
                pointer=where,
                label=(row_b or row_a).label,
                before="(sensitive)"
                if sensitive and row_a
                else row_a.value
                if row_a
                else absent_value(before_schema, where),
                after="(sensitive)" if sensitive and row_b else row_b.value if row_b else absent_value(schema, where),
                sensitive=sensitive,
            )
        )
    held = (current.connections or {}) if current is not None else {}
    for c in version.connections:
        old = names.get(held.get(c["name"], ""), "")
        new = step.connections.get(c["name"], "")
        if old != new:
            step.connection_changes.append(
                ConnectionChange(c["name"], c.get("title") or c["name"], old or "not connected", new or "not connected")
            )
    estimate = version.monthly_estimate(step.params)
    step.cost = (
        change_words(estimate, current_cost(current))
        if current is not None
        else (f"this adds {estimate}/month" if estimate is not None else "")
    )


def _refuse(step: PromoteStep, message: str, problems: dict | None = None) -> PromoteStep:
    step.verdict, step.message = REFUSED, message
    step.problems = problems or {"": [message]}
    return step


def _verdict(step: PromoteStep, current, target, version, created) -> PromoteStep:
    """The verdict submitting would give, from the same checks (bundle, read-only, immutable and only-increase,
    connections, then the target's policy and budget)."""
    schema = version.params_schema
    errors = param_errors_quickly(schema, step.params)  # param_errors, exactly: an environment's many at once
    base = current.full_params() if current is not None else {}
    moved = current is None or current.bundle_version_id != version.pk
    errors.update(
        read_only_changes(
            schema, version.ui_schema or {}, base, step.params, defaults=starting_params(schema) if moved else None
        )
    )
    if current is not None:
        for where, said in immutable_errors(deployment=current, params=step.params).items():
            errors[where] = [*errors.get(where, []), *said]
    try:
        connections_resolve(environment=target, bundle_version=version, requested=step.connections, deployment=current)
    except ParamsInvalid as exc:
        for where, said in exc.errors.items():
            name = where.rsplit("/", 1)[-1]
            producer = step.connections.get(name, "")
            if producer and producer.lower() in created:
                said = [
                    f"{producer} is created in {target} by this promotion and has not applied yet: promote "
                    f"{step.name} again once {producer} is live."
                ]
            errors[where] = said
    if errors:
        first = next(iter(errors.values()))[0]
        return _refuse(step, f"Cannot be promoted: {first}", errors)
    check = policy_verdict(
        environment=target,
        bundle_version=version,
        params=step.params,
        current=base if current is not None else None,
        expired=expired_exception_fields(current),
        deployment=current,
    )
    if check.ok:
        step.verdict = IN_POLICY
        kept = f" (kept as approved before: {', '.join(check.kept)})" if check.kept else ""
        step.message = f"Within the policy of {target}{kept}: it goes through and runs."
    else:
        step.verdict, step.problems = EXCEPTION, check.errors
        step.message = f"{check.message()} Promoting asks ops for an exception."
    return step


@dataclass
class Promotion:
    plan: PromotePlan
    outcomes: list[PromoteOutcome]
    event_id: int | None = None

    def as_data(self) -> dict:
        return {
            "source": str(self.plan.source),
            "target": str(self.plan.target),
            "plan": self.plan.fingerprint,
            "event": self.event_id,
            "deployments": [o.as_data() for o in self.outcomes],
        }


@transaction.atomic
def environment_promote(
    *,
    source: Environment,
    target: Environment,
    actor,
    deployment: str = "",
    channel: str = "ui",
    reason: str = "",
    expected_plan: str = "",
) -> Promotion:
    """Promote ``source`` (or its ``deployment``) to ``target``: each change within the policy is made, each one
    outside it becomes an exception request, each refused one is reported. ``expected_plan`` (the fingerprint
    of the plan reviewed) refuses the promotion when the plan has changed since."""
    promote_access(actor=actor, source=source, target=target)
    Environment.objects.select_for_update().filter(pk=target.pk).first()  # one promotion into an environment at once
    plan = promote_plan(source=source, target=target, deployment=deployment)
    if expected_plan and expected_plan != plan.fingerprint:
        raise Conflict(
            f"What promoting would do in {target} has changed since it was reviewed (someone changed a deployment of "
            f"{source} or {target}): review the plan again."
        )
    outcomes = [_carry_out(step, plan, actor=actor, channel=channel, reason=reason) for step in plan.steps]
    event = record_event(
        event_type="environment.promoted",
        actor=actor,
        target=target,
        channel=channel,
        data={
            "source": str(source),
            "source_id": source.pk,
            "deployment": plan.only_deployment or None,
            "plan": plan.fingerprint,
            "reason": reason,
            "deployments": [o.as_data() for o in outcomes],  # names, outcomes and ids: never a value
        },
    )
    return Promotion(plan, outcomes, getattr(event, "pk", None))


def _carry_out(step: PromoteStep, plan: PromotePlan, *, actor, channel: str, reason: str) -> PromoteOutcome:
    if step.verdict == UNCHANGED:
        return PromoteOutcome(step.name, "unchanged", step.message, deployment=_id(step.target))
    if step.verdict == REFUSED:
        return PromoteOutcome(step.name, "refused", step.message, deployment=_id(step.target))
    basis = basis_of(step.source, actor)
    note = f"{basis}: {reason}" if reason else basis
    version = step.source.bundle_version
    try:
        try:
            with transaction.atomic():
                return _make(step, plan, actor=actor, channel=channel, basis=basis, note=note, version=version)
        except PolicyViolation:
            with transaction.atomic():
                return _ask(step, plan, actor=actor, channel=channel, note=note, version=version)
    except ParamsInvalid as exc:
        said = "; ".join(f"{w or 'params'}: {' '.join(m)}" for w, m in exc.errors.items())
        return PromoteOutcome(step.name, "refused", f"{exc.message} {said}".strip(), deployment=_id(step.target))
    except ServiceError as exc:
        return PromoteOutcome(step.name, "refused", exc.message, deployment=_id(step.target))


def _ask(step, plan, *, actor, channel, note, version) -> PromoteOutcome:
    """The change as an exception request: ops decide; approving it makes the change, connections and version
    included."""
    wired = connections_resolve(
        environment=plan.target, bundle_version=version, requested=step.connections, deployment=step.target
    )
    request = exception_request_create(
        environment=plan.target,
        bundle_version=version,
        name=step.name,
        params=step.params,
        reason=note,
        actor=actor,
        deployment=step.target,
        channel=channel,
        connections=wired,
        bundle_version_moves=_moves(step),
    )
    return PromoteOutcome(
        step.name,
        "exception",
        f"Outside the policy of {plan.target}: exception #{request.pk} asked of ops.",
        exception=request.pk,
        deployment=_id(step.target),
    )


def _make(step, plan, *, actor, channel, basis, note, version) -> PromoteOutcome:
    if step.target is None:
        made = deployment_create(
            environment=plan.target,
            name=step.name,
            bundle_version=version,
            params=step.params,
            connections=step.connections,
            actor=actor,
            channel=channel,
            reason=note,
            basis_note=basis,
        )
        run = made.runs.order_by("-created_at", "-id").first()
        return PromoteOutcome(
            step.name,
            "created",
            f"Created in {plan.target}; run #{run.pk} queued.",
            run=run.pk,
            deployment=str(made.pk),
        )
    run = deployment_update(
        deployment=step.target,
        params=step.params,
        connections=step.connections,
        bundle_version=version if _moves(step) else None,
        expected_version=step.target.version,
        actor=actor,
        channel=channel,
        reason=note,
        basis_note=basis,
    )
    return PromoteOutcome(
        step.name,
        "changed",
        f"Changed in {plan.target}; run #{run.pk} queued.",
        run=run.pk,
        deployment=_id(step.target),
    )


def _id(deployment: Deployment | None) -> str | None:
    return str(deployment.pk) if deployment is not None else None
