"""Writes for runs: every door that starts a run comes through :func:`run_create`.

The UI, the API and the CLI (plan, apply, destroy), a new deployment and a changed one, a re-apply,
a restore, an approved exception and a bulk change's dry-run plans and rollout all create their run
here, so each run is snapshotted, recorded (``run.requested``) and enqueued the same way.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction

from bundles.models import BundleVersion
from portal.actor import actor_fields, actor_name
from portal.errors import Conflict, ServiceError
from portal.events import record_event
from portal.history import record_change

from .. import secrets
from ..choices import DeploymentStatus, RunAction, RunStatus
from ..models import Deployment, Run, StateLock
from .runner import reap_interrupted
from .status import settle_deployment
from .tasks import run_enqueue, run_enqueue_next


@transaction.atomic
def run_create(
    *,
    deployment: Deployment,
    action: str,
    actor,
    channel: str = "ui",
    reason: str = "",
    auto_apply: bool = True,
    approval_basis: str = "",
    bundle_version: BundleVersion | None = None,
    params: dict | None = None,
) -> Run:
    """Queue a run of ``deployment``; it waits behind any run already active there.

    By default the run takes the deployment's current configuration (version and params, sensitive
    values still encrypted). ``bundle_version`` and ``params`` (in clear) make it run a *proposed*
    configuration instead, without changing the deployment: a bulk change's dry-run plan.
    """
    version = bundle_version or deployment.bundle_version
    if params is None:  # the deployment's own configuration, its secrets still encrypted
        snapshot = {"params": deployment.params, "sensitive_params": deployment.sensitive_params}
    else:
        snapshot = secrets.stored(version.params_schema, params)
    if not approval_basis and action != RunAction.APPLY:
        approval_basis = f"{action} requested by {actor_name(actor)}"
    run = Run.objects.create(
        deployment=deployment,
        action=action,
        bundle_version=version,
        auto_apply=auto_apply,
        channel=channel,
        reason=reason,
        approval_basis=approval_basis,
        **snapshot,
        **actor_fields(actor),
    )
    if action == RunAction.DESTROY and deployment.status != DeploymentStatus.DESTROYING:
        deployment.status = DeploymentStatus.DESTROYING
        record_change(
            deployment,
            channel=channel,
            actor=actor,
            note=f"destroy requested: {reason}" if reason else "destroy requested",
        )
        deployment.save(update_fields=["status", "updated_at"])
    record_event(
        event_type="run.requested",
        actor=actor,
        target=deployment,
        channel=channel,
        data={"run": run.pk, "action": action, "bundle_version": str(version), "reason": reason},
    )
    transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    return run


def run_for_update(run: Run, *, expected: tuple[str, ...], doing: str) -> Run:
    """The run, locked, if its status is one of ``expected``; else a ServiceError saying what it is."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status not in expected:
        raise Conflict(f"Run #{run.pk} is {run.get_status_display().lower()}, not {doing}.")
    return run


@transaction.atomic
def run_cancel(*, run: Run, actor, channel: str = "ui") -> Run:
    """Cancel a queued run at once; ask a running one to stop (the runner acts on the flag)."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.is_terminal:
        raise Conflict(f"Run #{run.pk} has already finished ({run.get_status_display().lower()}).")
    if run.status in (RunStatus.QUEUED, RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL):
        run.transition(RunStatus.CANCELLED, cancel_requested=True, error=f"Cancelled by {actor}.")
        settle_deployment(run)
    else:
        Run.objects.filter(pk=run.pk).update(cancel_requested=True)
        run.cancel_requested = True
    record_event(
        event_type="run.cancel_requested", actor=actor, target=run.deployment, channel=channel, data={"run": run.pk}
    )
    return run


@transaction.atomic
def run_confirm_apply(*, run: Run, actor, channel: str = "ui") -> Run:
    """Apply a reviewed plan: the planned run goes back in the queue and the worker applies the saved plan."""
    run = run_for_update(run, expected=(RunStatus.PLANNED,), doing="a plan waiting to be applied")
    if run.action == RunAction.PLAN:
        raise ServiceError("A plan-only run cannot be applied; request an apply.")
    run.transition(RunStatus.QUEUED, apply_confirmed_by=actor_name(actor), enqueued_at=None)
    record_event(
        event_type="run.apply_confirmed", actor=actor, target=run.deployment, channel=channel, data={"run": run.pk}
    )
    transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    return run


@transaction.atomic
def state_lock_force_unlock(*, deployment: Deployment, actor, channel: str = "ui", reason: str = "") -> dict:
    """Release a state lock left behind (a worker died mid-apply). Only ops may do this; it is audited."""
    lock = StateLock.objects.select_for_update().filter(deployment=deployment).first()
    if lock is None:
        raise ServiceError(f"{deployment.name} holds no state lock.")
    if lock.run_id and Run.objects.filter(pk=lock.run_id, status__in=[RunStatus.RUNNING, RunStatus.APPLYING]).exists():
        raise Conflict(f"Run #{lock.run_id} is still running and holds the lock; cancel it instead.")
    info = {"lock_id": lock.lock_id, "info": lock.info, "run": lock.run_id, "reason": reason}
    lock.delete()
    if lock.run_id:  # an engine left running by a dead worker can no longer write state
        Run.objects.filter(pk=lock.run_id).update(state_credential="")
    transaction.on_commit(lambda: run_enqueue_next(deployment_id=deployment.pk))
    record_event(event_type="state.lock_forced", actor=actor, target=deployment, channel=channel, data=info)
    return info


_last_reap = 0.0


def runs_reap_due() -> int:
    """Mark runs whose worker died as interrupted, at most once per ``SLIPWAY_REAPER_INTERVAL`` in this process.

    Beat's periodic task needs a worker to execute it; the web process (and beat itself, ``tasks.beat_started``)
    call this so a dead run is shown interrupted even when no worker is alive.
    """
    global _last_reap
    now = time.monotonic()
    if now - _last_reap < settings.SLIPWAY_REAPER_INTERVAL:
        return 0
    _last_reap = now
    return len(reap_interrupted(stale_after=settings.SLIPWAY_RUN_STALE_SECONDS))
