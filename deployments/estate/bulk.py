"""Bulk changes: test a change against every deployment a query selects, then roll it out in waves.

A change sets or unsets param paths (applied with jsonpatch to each target's real params), moves
the targets to another version of their bundle, or both. The **dry run** validates every target
against its effective schema (each validator compiled once per bundle version and policy overlay)
and, optionally, plans each valid one in the Celery workers; it sorts the targets into clean,
invalid (with the error) and "would replace or destroy" (with the resources). The **rollout**
applies the clean ones in waves through ``deployment_update`` with channel ``bulk``, so the policy
path and the audit trail are the same as for a change made by hand.

The database drives both: :func:`bulk_drive` reads the bulk change's status, does the next step
inside one transaction (with the row locked), and schedules itself again. Every step is
idempotent, so a driver that dies mid-step, a duplicate message or a worker restart only delays
the change; :func:`bulk_kick` restarts a chain that went quiet.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jsonpatch
from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from jsonpointer import JsonPointer, JsonPointerException

from audit.services import audit_event_record
from bundles.models import BundleVersion
from bundles.schema import compile_validator, param_errors
from portal.roles import is_ops

from . import secrets
from .choices import RUN_TERMINAL, DeploymentStatus, RunAction, RunStatus
from .estate import QueryError, estate_query
from .models import BulkChange, BulkTarget, Deployment, Environment, Policy, Run
from .services import ParamsInvalid, ServiceError, deployment_update, run_enqueue

log = logging.getLogger(__name__)

CHANNEL = "bulk"
DRIVE_EVERY_SECONDS = 2
STALE_DRIVER_SECONDS = settings.SLIPWAY_BULK_STALE_SECONDS
VALIDATE_CHUNK = 2000
_MISSING = object()


def _ops_only(actor) -> None:
    if not is_ops(actor):
        raise PermissionDenied("Only platform ops can run bulk changes.")


# --- The change itself -------------------------------------------------------------------------


def clean_patch(patch: Any) -> list[dict]:
    """Check a change list: ``[{"op": "set", "path": "/a/b", "value": ...}, {"op": "unset", "path": "/c"}]``."""
    if not isinstance(patch, list):
        raise ServiceError("The change must be a list of set/unset operations.", field="patch")
    cleaned = []
    for index, item in enumerate(patch):
        if not isinstance(item, dict) or item.get("op") not in ("set", "unset"):
            raise ServiceError(f"Change {index + 1}: op must be 'set' or 'unset'.", field="patch")
        path = item.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise ServiceError(f"Change {index + 1}: path must be a JSON pointer such as /storage/size.", field="patch")
        try:
            JsonPointer(path)
        except JsonPointerException as exc:
            raise ServiceError(f"Change {index + 1}: {exc}", field="patch") from exc
        if item["op"] == "set" and "value" not in item:
            raise ServiceError(f"Change {index + 1}: set needs a value.", field="patch")
        cleaned.append({"op": item["op"], "path": path, **({"value": item["value"]} if item["op"] == "set" else {})})
    return cleaned


def apply_patch(params: dict, patch: list[dict]) -> dict:
    """The params with the change applied: ``set`` creates missing parent objects, ``unset`` of a missing
    path is a no-op."""
    doc = copy.deepcopy(params)
    for item in patch:
        pointer = JsonPointer(item["path"])
        if item["op"] == "unset":
            if pointer.resolve(doc, _MISSING) is not _MISSING:
                doc = jsonpatch.apply_patch(doc, [{"op": "remove", "path": item["path"]}])
            continue
        ops = []
        for depth in range(1, len(pointer.parts)):
            parent = JsonPointer.from_parts(pointer.parts[:depth])
            if not isinstance(parent.resolve(doc, None), dict):
                ops.append({"op": "add", "path": parent.path, "value": {}})
                doc = jsonpatch.apply_patch(doc, ops[-1:])
        doc = jsonpatch.apply_patch(doc, [{"op": "add", "path": item["path"], "value": item["value"]}])
    return doc


def describe_change(bulk: BulkChange) -> str:
    parts = []
    for item in bulk.patch:
        if item["op"] == "set":
            parts.append(f"set {item['path']} = {json.dumps(item['value'])}")
        else:
            parts.append(f"unset {item['path']}")
    if bulk.target_version_id:
        parts.append(f"move to {bulk.target_version}")
    return "; ".join(parts) or "no change"


# --- Validation, each validator compiled once ---------------------------------------------------


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
        self._compiled: dict[tuple, tuple[dict, Any]] = {}
        self._policies: dict[int, Policy | None] = {}
        if environment_ids is not None:
            found = {p.environment_id: p for p in Policy.objects.filter(environment_id__in=set(environment_ids))}
            self._policies = {env_id: found.get(env_id) for env_id in set(environment_ids)}

    def _policy(self, environment: Environment) -> Policy | None:
        if environment.pk not in self._policies:
            self._policies[environment.pk] = Policy.objects.filter(environment=environment).first()
        return self._policies[environment.pk]

    def _validator(self, bundle_version: BundleVersion, overlay: dict) -> tuple[dict, Any]:
        key = (bundle_version.pk, json.dumps(overlay, sort_keys=True) if overlay else "")
        found = self._compiled.get(key)
        if found is None:
            schema = bundle_version.params_schema
            if overlay:
                schema = {**schema, "allOf": [*(schema.get("allOf") or []), overlay]}
            found = self._compiled[key] = (schema, compile_validator(schema))
        return found

    def check(self, *, environment: Environment, bundle_version: BundleVersion, params: Any) -> Verdict:
        if not isinstance(params, dict):
            return Verdict({"": ["The parameters must be a JSON object."]})
        policy = self._policy(environment)
        bundle_name = bundle_version.bundle.name
        if policy is not None and not policy.allows_bundle(bundle_name):
            return Verdict({"": [f"{bundle_name} is not in the allowed bundles of {environment}."]})
        overlay = ((policy.overlays or {}).get(bundle_name) or {}) if policy is not None else {}
        schema, validator = self._validator(bundle_version, overlay)
        if validator.is_valid(params):
            return Verdict({})
        # Only the invalid ones pay for the friendly messages; they name the same JSON pointers as the form.
        return Verdict(param_errors(schema, params))


def _immutable_errors(deployment: Deployment, current: dict, proposed: dict) -> dict[str, list[str]]:
    errors = {}
    for name, sub in (deployment.bundle_version.params_schema.get("properties") or {}).items():
        if isinstance(sub, dict) and sub.get("x-immutable") and proposed.get(name) != current.get(name):
            errors[f"/{name}"] = [f"{sub.get('title') or name} cannot change after the first apply."]
    return errors


def proposed_for(bulk: BulkChange, deployment: Deployment) -> tuple[BundleVersion, dict]:
    """What the change makes of one deployment: (bundle version, full params)."""
    return bulk.target_version or deployment.bundle_version, apply_patch(deployment.full_params(), bulk.patch)


# --- Services ------------------------------------------------------------------------------------


@transaction.atomic
def bulk_change_create(
    *,
    title: str,
    query: str,
    patch: list | None = None,
    target_version: BundleVersion | None = None,
    plan: bool = False,
    actor,
) -> BulkChange:
    """Record a bulk change (nothing runs yet). Only ops may."""
    _ops_only(actor)
    try:
        estate_query(query)
    except QueryError as exc:
        raise ServiceError(f"The query is not valid: {exc}", field="query") from exc
    if not query.strip():
        raise ServiceError("Select the targets with a query, e.g. bundle:postgres env.tier:production.", field="query")
    patch = clean_patch(patch or [])
    if not patch and target_version is None:
        raise ServiceError("Say what to change: set or unset a param, or choose a bundle version.", field="patch")
    bulk = BulkChange.objects.create(
        title=title.strip() or (f"Upgrade to {target_version}" if target_version else "Bulk change"),
        query=query,
        patch=patch,
        target_version=target_version,
        plan=plan,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        created_by_name=getattr(actor, "username", "") or "system",
    )
    return bulk


def upgrade_query(version: BundleVersion) -> str:
    """The query that selects every deployment of ``version``'s bundle on an older version."""
    return f"bundle:{version.bundle.name} version<{version.version}"


def upgrade_candidates(version: BundleVersion):
    query = estate_query(upgrade_query(version))
    return query.filter(
        Deployment.objects.exclude(status__in=[DeploymentStatus.DESTROYED, DeploymentStatus.DESTROYING])
    )


def bulk_upgrade_create(*, version: BundleVersion, plan: bool = True, actor) -> BulkChange:
    """The offer made when a version is published: dry-run the upgrade of the deployments on older versions."""
    return bulk_change_create(
        title=f"Upgrade {version.bundle.name} to {version.version}",
        query=upgrade_query(version),
        target_version=version,
        plan=plan,
        actor=actor,
    )


def _select_targets(bulk: BulkChange) -> int:
    qs = estate_query(bulk.query).filter(
        Deployment.objects.exclude(status__in=[DeploymentStatus.DESTROYED, DeploymentStatus.DESTROYING])
    )
    if bulk.target_version_id:
        qs = qs.filter(bundle_version__bundle_id=bulk.target_version.bundle_id)
        if not bulk.patch:
            qs = qs.exclude(bundle_version=bulk.target_version)
    rows = qs.order_by("environment__tier", "environment__project__slug", "name").values_list(
        "pk", "bundle_version_id", "version"
    )
    BulkTarget.objects.bulk_create(
        [
            BulkTarget(bulk_change=bulk, deployment_id=pk, from_version_id=version_id, deployment_version=version)
            for pk, version_id, version in rows
        ],
        batch_size=1000,
    )
    return len(rows)


@transaction.atomic
def bulk_dry_run_start(*, bulk: BulkChange, actor, plan: bool | None = None) -> BulkChange:
    """Select the targets and start the dry run (a draft or a tested change may be tried again)."""
    _ops_only(actor)
    bulk = BulkChange.objects.select_for_update().get(pk=bulk.pk)
    if bulk.status not in (BulkChange.Status.DRAFT, BulkChange.Status.TESTED):
        raise ServiceError(f"Bulk change #{bulk.pk} is {bulk.get_status_display().lower()}; it cannot be dry-run now.")
    bulk.targets.all().delete()
    if plan is not None:
        bulk.plan = plan
    count = _select_targets(bulk)
    if count == 0:
        raise ServiceError("The query selects no deployment that this change applies to.", field="query")
    bulk.status = BulkChange.Status.DRY_RUNNING
    bulk.message = f"Validating {count} deployments."
    bulk.save()
    _start_driver(bulk)
    return bulk


def run_plan_request(*, deployment: Deployment, bundle_version: BundleVersion, params: dict, actor, reason: str) -> Run:
    """Queue a plan of *proposed* params (and version) for a deployment, without changing the deployment.

    The run snapshots the params masked, with the x-sensitive values encrypted beside them, exactly as
    an apply's snapshot is kept; the runner plans them against ``bundle_version`` and stops.
    """
    masked, encrypted = secrets.split(bundle_version.params_schema, params)
    run = Run.objects.create(
        deployment=deployment,
        action=RunAction.PLAN,
        bundle_version=bundle_version,
        params=masked,
        sensitive_params=encrypted,
        auto_apply=False,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        requested_by_name=getattr(actor, "username", "") or "system",
        channel=CHANNEL,
        reason=reason,
        approval_basis=f"plan requested by {getattr(actor, 'username', '') or 'system'}",
    )
    transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    return run


@transaction.atomic
def bulk_rollout_start(
    *,
    bulk: BulkChange,
    actor,
    wave_size: int = 5,
    pause_seconds: int = 0,
    failure_threshold: int = 1,
    include_risky: bool = False,
) -> BulkChange:
    """Roll the tested change out to the clean targets (and the risky ones if asked), in waves."""
    _ops_only(actor)
    bulk = BulkChange.objects.select_for_update().get(pk=bulk.pk)
    if bulk.status != BulkChange.Status.TESTED:
        raise ServiceError("Run the dry run first: only a tested change rolls out.")
    if wave_size < 1 or failure_threshold < 1:
        raise ServiceError("The wave size and the failure threshold must be at least 1.")
    eligible = [BulkTarget.Verdict.CLEAN] + ([BulkTarget.Verdict.RISKY] if include_risky else [])
    if not bulk.targets.filter(verdict__in=eligible).exists():
        raise ServiceError("No target can roll out: every one is invalid or would replace or destroy.")
    bulk.targets.exclude(verdict__in=eligible).update(rollout=BulkTarget.Rollout.SKIPPED)
    bulk.targets.filter(verdict__in=eligible).update(rollout=BulkTarget.Rollout.WAITING)
    bulk.wave_size, bulk.pause_seconds = wave_size, pause_seconds
    bulk.failure_threshold, bulk.include_risky = failure_threshold, include_risky
    bulk.status = BulkChange.Status.ROLLING_OUT
    bulk.started_at = timezone.now()
    bulk.waves_started = 0
    bulk.next_wave_at = None
    bulk.message = "Starting the first wave."
    bulk.save()
    audit_event_record(
        event_type="bulk.started",
        actor=actor,
        target=bulk,
        channel=CHANNEL,
        data={
            "bulk_change": bulk.pk,
            "title": bulk.title,
            "query": bulk.query,
            "change": describe_change(bulk),
            "targets": bulk.targets.filter(verdict__in=eligible).count(),
            "wave_size": wave_size,
            "failure_threshold": failure_threshold,
        },
    )
    _start_driver(bulk)
    return bulk


@transaction.atomic
def bulk_cancel(*, bulk: BulkChange, actor) -> BulkChange:
    """Stop a dry run or a rollout: no new wave starts; runs already queued finish on their own."""
    _ops_only(actor)
    bulk = BulkChange.objects.select_for_update().get(pk=bulk.pk)
    if bulk.status in (BulkChange.Status.COMPLETED, BulkChange.Status.STOPPED, BulkChange.Status.CANCELLED):
        raise ServiceError(f"Bulk change #{bulk.pk} is already {bulk.get_status_display().lower()}.")
    bulk.status = BulkChange.Status.CANCELLED
    bulk.finished_at = timezone.now()
    bulk.message = f"Cancelled by {getattr(actor, 'username', '') or 'system'}."
    bulk.driver_token = ""
    bulk.save()
    bulk.targets.filter(rollout=BulkTarget.Rollout.WAITING).update(rollout=BulkTarget.Rollout.SKIPPED)
    audit_event_record(
        event_type="bulk.cancelled", actor=actor, target=bulk, channel=CHANNEL, data={"bulk_change": bulk.pk}
    )
    return bulk


# --- The driver ----------------------------------------------------------------------------------


def _start_driver(bulk: BulkChange) -> None:
    """Hand the change to a new driver chain; any older chain stops at its next step."""
    token = uuid.uuid4().hex
    BulkChange.objects.filter(pk=bulk.pk).update(driver_token=token, driven_at=timezone.now())
    bulk.driver_token = token
    transaction.on_commit(lambda: _send(bulk.pk, token, 0))


def _send(bulk_id: int, token: str, countdown: float) -> None:
    try:
        drive_bulk_change.apply_async(args=[bulk_id, token], countdown=countdown, retry=False)
    except Exception:  # the broker is down: the periodic kick starts a new chain
        log.warning("broker unavailable; bulk change %s waits for the next kick", bulk_id, exc_info=True)


def bulk_kick(*, bulk: BulkChange, stale_after: float = STALE_DRIVER_SECONDS) -> bool:
    """Start a new driver chain if the change is active and nobody drove it lately (a worker restarted)."""
    if not bulk.is_active:
        return False
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    with transaction.atomic():
        fresh = BulkChange.objects.select_for_update().filter(pk=bulk.pk).first()
        if fresh is None or not fresh.is_active or (fresh.driven_at and fresh.driven_at > cutoff):
            return False
        _start_driver(fresh)
    return True


def bulk_drive(bulk_id: int, token: str | None = None) -> float | None:
    """Do the next step of one bulk change. Returns seconds until the next step, or None when done.

    With ``token``, only the chain holding the current token acts: a superseded chain ends here.
    """
    with transaction.atomic():
        bulk = (
            BulkChange.objects.select_for_update(of=("self",))
            .select_related("target_version__bundle")
            .filter(pk=bulk_id)
            .first()
        )
        if bulk is None or not bulk.is_active:
            return None
        if token is not None and bulk.driver_token != token:
            return None
        if bulk.status == BulkChange.Status.DRY_RUNNING:
            _dry_run_step(bulk)
        else:
            _rollout_step(bulk)
        bulk.driven_at = timezone.now()
        bulk.save()
        if not bulk.is_active:
            return None
        if bulk.status == BulkChange.Status.ROLLING_OUT and bulk.next_wave_at:
            return max((bulk.next_wave_at - timezone.now()).total_seconds(), DRIVE_EVERY_SECONDS)
        return DRIVE_EVERY_SECONDS


@shared_task(acks_late=True, ignore_result=True)
def drive_bulk_change(bulk_id: int, token: str) -> None:
    """One step of a bulk change, then the next one scheduled: idempotent, so a redelivered message is harmless."""
    delay = bulk_drive(bulk_id, token)
    if delay is not None:
        _send(bulk_id, token, delay)


@shared_task(ignore_result=True)
def kick_bulk_changes() -> int:
    """Periodic safety net: restart the driver of any active change that went quiet."""
    return sum(bulk_kick(bulk=bulk) for bulk in BulkChange.objects.filter(status__in=BulkChange.ACTIVE))


# --- Dry run -----------------------------------------------------------------------------------


def _dry_run_step(bulk: BulkChange) -> None:
    pending = list(
        bulk.targets.filter(verdict=BulkTarget.Verdict.PENDING).select_related(
            "deployment__environment", "deployment__bundle_version__bundle"
        )[:VALIDATE_CHUNK]
    )
    if pending:
        _validate(bulk, pending)
        return
    planning = list(bulk.targets.filter(verdict=BulkTarget.Verdict.PLANNING).select_related("plan_run"))
    for target in planning:
        run = target.plan_run
        if run is None or run.status not in RUN_TERMINAL:
            continue
        if run.status != RunStatus.SUCCEEDED:
            target.verdict = BulkTarget.Verdict.INVALID
            target.errors = {"": [f"The plan failed: {(run.error or run.status).strip()[:1000]}"]}
        else:
            risky = [
                {"address": r.get("address"), "action": r.get("action"), "words": r.get("words")}
                for r in (run.plan_summary or {}).get("resources") or []
                if r.get("action") in ("replace", "destroy")
            ]
            target.verdict = BulkTarget.Verdict.RISKY if risky else BulkTarget.Verdict.CLEAN
            target.resources = risky
        target.save(update_fields=["verdict", "errors", "resources"])
    still = bulk.targets.filter(verdict=BulkTarget.Verdict.PLANNING).count()
    if still:
        total = bulk.targets.count()
        bulk.message = f"Planning: {total - still} of {total} done."
        return
    counts = dry_run_counts(bulk)
    bulk.status = BulkChange.Status.TESTED
    bulk.message = (
        f"Dry run done: {counts['clean']} clean, {counts['invalid']} invalid, "
        f"{counts['risky']} would replace or destroy."
    )


def _validate(bulk: BulkChange, targets: list[BulkTarget]) -> None:
    validators = Validators({t.deployment.environment_id for t in targets})
    applied = set(
        Run.objects.filter(
            deployment_id__in=[t.deployment_id for t in targets], status=RunStatus.SUCCEEDED, action=RunAction.APPLY
        ).values_list("deployment_id", flat=True)
    )
    reason = f"dry run of bulk change #{bulk.pk}"
    for target in targets:
        deployment = target.deployment
        current = deployment.full_params()
        version = bulk.target_version or deployment.bundle_version
        try:
            proposed = apply_patch(current, bulk.patch)
        except (jsonpatch.JsonPatchException, JsonPointerException) as exc:
            target.verdict, target.errors = BulkTarget.Verdict.INVALID, {"": [f"The change does not apply: {exc}"]}
            continue
        errors = validators.check(environment=deployment.environment, bundle_version=version, params=proposed).errors
        if not errors and deployment.pk in applied:
            errors = _immutable_errors(deployment, current, proposed)
        if errors:
            target.verdict, target.errors = BulkTarget.Verdict.INVALID, errors
        elif bulk.plan:
            target.verdict = BulkTarget.Verdict.PLANNING
            target.plan_run = run_plan_request(
                deployment=deployment, bundle_version=version, params=proposed, actor=bulk.created_by, reason=reason
            )
        else:
            target.verdict = BulkTarget.Verdict.CLEAN
    BulkTarget.objects.bulk_update(targets, ["verdict", "errors", "plan_run"], batch_size=1000)
    done = bulk.targets.exclude(verdict=BulkTarget.Verdict.PENDING).count()
    bulk.message = f"Validated {done} of {bulk.targets.count()}."


def dry_run_counts(bulk: BulkChange) -> dict[str, int]:
    counts = dict.fromkeys(BulkTarget.Verdict.values, 0)
    for verdict, n in _count_by(bulk, "verdict"):
        counts[verdict] = n
    counts["total"] = sum(counts[v] for v in BulkTarget.Verdict.values)
    return counts


def rollout_counts(bulk: BulkChange) -> dict[str, int]:
    counts = dict.fromkeys(BulkTarget.Rollout.values, 0)
    for rollout, n in _count_by(bulk, "rollout"):
        counts[rollout] = n
    counts["eligible"] = sum(counts[k] for k in BulkTarget.Rollout.values if k != BulkTarget.Rollout.SKIPPED)
    counts["done"] = counts["succeeded"] + counts["failed"] + counts["held"]
    return counts


def _count_by(bulk: BulkChange, column: str):
    from django.db.models import Count

    return bulk.targets.values_list(column).annotate(n=Count("id")).order_by()


# --- Rollout -----------------------------------------------------------------------------------

FAILED_RUN = (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED)
HELD_RUN = (RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL)


def _rollout_step(bulk: BulkChange) -> None:
    running = list(bulk.targets.filter(rollout=BulkTarget.Rollout.RUNNING).select_related("run"))
    for target in running:
        run = target.run
        if run is None:
            continue
        if run.status == RunStatus.SUCCEEDED:
            target.rollout = BulkTarget.Rollout.SUCCEEDED
        elif run.status in FAILED_RUN:
            target.rollout, target.error = BulkTarget.Rollout.FAILED, (run.error or run.status)[:2000]
        elif run.status in HELD_RUN:
            target.rollout = BulkTarget.Rollout.HELD
        else:
            continue
        target.save(update_fields=["rollout", "error"])
    counts = rollout_counts(bulk)
    if counts["failed"] >= bulk.failure_threshold:
        _stop(bulk, counts)
        return
    if counts["running"]:
        bulk.message = (
            f"Wave {bulk.waves_started}: {counts['running']} running; {counts['done']} of {counts['eligible']} done."
        )
        return
    if not counts["waiting"]:
        bulk.status = BulkChange.Status.COMPLETED
        bulk.finished_at = timezone.now()
        held = f", {counts['held']} waiting for review" if counts["held"] else ""
        bulk.message = (
            f"Rolled out: {counts['succeeded']} succeeded, {counts['failed']} failed{held}, "
            f"in {bulk.waves_started} waves."
        )
        bulk.driver_token = ""
        return
    now = timezone.now()
    if bulk.waves_started and bulk.pause_seconds:
        if bulk.next_wave_at is None:
            bulk.next_wave_at = now + timedelta(seconds=bulk.pause_seconds)
        if now < bulk.next_wave_at:
            bulk.message = f"Wave {bulk.waves_started} done; the next starts at {bulk.next_wave_at:%H:%M:%S} UTC."
            return
    _start_wave(bulk)


def _stop(bulk: BulkChange, counts: dict) -> None:
    bulk.status = BulkChange.Status.STOPPED
    bulk.finished_at = timezone.now()
    bulk.driver_token = ""
    skipped = bulk.targets.filter(rollout=BulkTarget.Rollout.WAITING).update(rollout=BulkTarget.Rollout.SKIPPED)
    bulk.message = (
        f"Stopped: {counts['failed']} targets failed, which reaches the failure threshold of {bulk.failure_threshold}. "
        f"{counts['succeeded']} succeeded; {skipped} were not started."
    )
    audit_event_record(
        event_type="bulk.stopped",
        actor=None,
        target=bulk,
        channel=CHANNEL,
        data={"bulk_change": bulk.pk, "failed": counts["failed"], "threshold": bulk.failure_threshold},
    )


def _start_wave(bulk: BulkChange) -> None:
    wave = bulk.waves_started + 1
    targets = list(
        bulk.targets.filter(rollout=BulkTarget.Rollout.WAITING)
        .select_related("deployment__bundle_version__bundle", "deployment__environment")
        .order_by("id")[: bulk.wave_size]
    )
    actor = bulk.created_by
    reason = f"bulk change #{bulk.pk}: {bulk.title}"
    for target in targets:
        target.wave = wave
        try:
            with transaction.atomic():
                version, params = proposed_for(bulk, target.deployment)
                target.run = deployment_update(
                    deployment=target.deployment,
                    params=params,
                    actor=actor,
                    channel=CHANNEL,
                    reason=reason,
                    bundle_version=version if version.pk != target.deployment.bundle_version_id else None,
                )
                target.rollout = BulkTarget.Rollout.RUNNING
        except ParamsInvalid as exc:
            target.rollout, target.error = BulkTarget.Rollout.FAILED, f"{exc.message} {json.dumps(exc.errors)}"
        except (ServiceError, PermissionDenied) as exc:
            target.rollout, target.error = BulkTarget.Rollout.FAILED, str(getattr(exc, "message", exc))
        target.save(update_fields=["wave", "run", "rollout", "error"])
    bulk.waves_started = wave
    bulk.next_wave_at = None
    bulk.message = f"Wave {wave} started with {len(targets)} deployments."
