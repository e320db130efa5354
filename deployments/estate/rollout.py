"""The database drives a bulk change: :func:`bulk_drive` reads its status, does the next step inside one
transaction (with the row locked), and schedules itself again.

Every step is idempotent, so a driver that dies mid-step, a duplicate message or a worker restart
only delays the change; :func:`bulk_kick` restarts a chain that went quiet. Task names keep the
``deployments.bulk`` prefix they were published under (the beat schedule names one).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

import jsonpatch
from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from jsonpointer import JsonPointerException

from bundles.schema import starting_params
from portal.errors import ParamsInvalid, ServiceError
from portal.events import record_event

from ..choices import RUN_TERMINAL, RunAction, RunStatus
from ..connections.options import option_errors
from ..connections.services import connections_resolve
from ..models import BulkChange, BulkTarget, Deployment, Run
from ..policy.selectors import expired_exception_fields
from ..services import deployment_plan, deployment_update, read_only_changes, unmakeable_changes
from .patch import apply_patch
from .validation import Validators

log = logging.getLogger(__name__)

CHANNEL = "bulk"
DRIVE_EVERY_SECONDS = 2
STALE_DRIVER_SECONDS = settings.SLIPWAY_BULK_STALE_SECONDS
VALIDATE_CHUNK = 2000


def proposed_for(bulk: BulkChange, deployment: Deployment):
    """What the change makes of one deployment: (bundle version, full params)."""
    return bulk.target_version or deployment.bundle_version, apply_patch(deployment.full_params(), bulk.patch)


def start_driver(bulk: BulkChange) -> None:
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


def is_quiet(bulk: BulkChange, stale_after: float = STALE_DRIVER_SECONDS) -> bool:
    """An active change nobody drove lately: its driver chain was lost (a worker restarted)."""
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    return bulk.is_active and not (bulk.driven_at and bulk.driven_at > cutoff)


def bulk_kick(*, bulk: BulkChange, stale_after: float = STALE_DRIVER_SECONDS) -> bool:
    """Start a new driver chain if the change is active and nobody drove it lately (a worker restarted)."""
    if not bulk.is_active:
        return False
    with transaction.atomic():
        fresh = BulkChange.objects.select_for_update().filter(pk=bulk.pk).first()
        if fresh is None or not is_quiet(fresh, stale_after):
            return False
        start_driver(fresh)
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


@shared_task(name="deployments.bulk.drive_bulk_change", acks_late=True, ignore_result=True)
def drive_bulk_change(bulk_id: int, token: str) -> None:
    """One step of a bulk change, then the next one scheduled: idempotent, so a redelivered message is harmless."""
    delay = bulk_drive(bulk_id, token)
    if delay is not None:
        _send(bulk_id, token, delay)


@shared_task(name="deployments.bulk.kick_bulk_changes", ignore_result=True)
def kick_bulk_changes() -> int:
    """Periodic safety net: restart the driver of any active change that went quiet."""
    return sum(bulk_kick(bulk=bulk) for bulk in BulkChange.objects.filter(status__in=BulkChange.ACTIVE))


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
        errors = validators.check(
            environment=deployment.environment,
            bundle_version=version,
            params=proposed,
            current=current,
            expired=expired_exception_fields(deployment),
        ).errors
        if not errors:
            moved = version != deployment.bundle_version
            errors = read_only_changes(
                version.params_schema,
                version.ui_schema or {},
                current,
                proposed,
                defaults=starting_params(version.params_schema) if moved else None,
            )
        if not errors and deployment.pk in applied:
            errors = unmakeable_changes(deployment.bundle_version.params_schema, current, proposed)
        if not errors:
            errors = _connection_errors(deployment, version, proposed)
        if not errors:  # as a single change: over the environment's budget, it is not approved by the policy
            errors = validators.over_budget(
                environment=deployment.environment, bundle_version=version, params=proposed, deployment=deployment
            )
        if errors:
            target.verdict, target.errors = BulkTarget.Verdict.INVALID, errors
        elif bulk.plan:
            target.verdict = BulkTarget.Verdict.PLANNING
            target.plan_run = deployment_plan(
                deployment=deployment,
                actor=bulk.created_by,
                channel=CHANNEL,
                reason=reason,
                proposed=(version, proposed),
            )
        else:
            target.verdict = BulkTarget.Verdict.CLEAN
    BulkTarget.objects.bulk_update(targets, ["verdict", "errors", "plan_run"], batch_size=1000)
    done = bulk.targets.exclude(verdict=BulkTarget.Verdict.PENDING).count()
    bulk.message = f"Validated {done} of {bulk.targets.count()}."


def _connection_errors(deployment: Deployment, version, proposed: dict) -> dict[str, list[str]]:
    """Whether the deployment's connections, kept as they are, still hold under ``version`` (a producer since
    destroyed or changed, a connection the new version adds and nothing fills), and whether the proposed values
    of ``x-options-from`` fields are among what those producers offer, in the words submit uses."""
    if not version.connections:
        return {}
    try:
        wired = connections_resolve(
            environment=deployment.environment, bundle_version=version, requested=None, deployment=deployment
        )
    except ParamsInvalid as exc:
        return exc.errors
    return option_errors(environment=deployment.environment, version=version, params=proposed, wiring=wired)


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
    return bulk.targets.values_list(column).annotate(n=Count("id")).order_by()


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
            f"in {bulk.waves_started} wave{'' if bulk.waves_started == 1 else 's'}."
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
    record_event(
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
    bulk.message = f"Wave {wave} started with {len(targets)} deployment{'' if len(targets) == 1 else 's'}."
