"""Executes one run: claim it, follow the pipeline's stages in a fresh workdir, finish it.

``execute(run_id)`` owns the whole lifecycle: whatever happens, the run ends in a terminal or
waiting status with its error, never left ``running``. What a run does is the pipeline
(:mod:`.pipeline`, steps in :mod:`.steps`); this module only walks it and ends the run.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from portal.crypto import KeyMismatch
from portal.events import record_event

from ..choices import RUN_EXECUTING, RunAction, RunStatus
from ..models import Deployment, Run, StateLock
from . import steps, workdirs
from .engine import EngineNotFound
from .execution import EngineProcess, Execution, RunFailed, RunStopped
from .gate import Decision, decide
from .pipeline import AFTER_APPLY, APPLY, GATE, INPUTS, PIPELINE, PLAN, Pipeline
from .signals import run_finished
from .status import settle_deployment

log = logging.getLogger(__name__)

EVENT_FOR_STATUS = {
    RunStatus.PLANNED: "run.planned",
    RunStatus.AWAITING_APPROVAL: "run.awaiting_approval",
    RunStatus.FAILED: "run.failed",
    RunStatus.CANCELLED: "run.cancelled",
    RunStatus.INTERRUPTED: "run.interrupted",
}


def claim(run_id: int, worker: str = "") -> Run | None:
    """Take the run if it is queued, first in its deployment's line, and nothing else executes there.

    Returns None when another worker has it or it must wait; the run that finishes first kicks the
    next queued one, and the periodic requeue covers anything missed. A state lock left by a run
    that died also makes it wait, until ops force-unlock.
    """
    with transaction.atomic():
        run = Run.objects.filter(pk=run_id).select_related("deployment").first()
        if run is None or run.status != RunStatus.QUEUED:
            return None
        # One query: the deployment locked (claims of its runs go one at a time), and whether anything holds
        # the run back: a run executing there, an older one queued, a state lock.
        deployment_runs = Run.objects.filter(deployment_id=OuterRef("pk"))
        held_back = (
            Deployment.objects.select_for_update(of=("self",))
            .filter(pk=run.deployment_id)
            .annotate(
                executing=Exists(deployment_runs.filter(status__in=RUN_EXECUTING)),
                ahead=Exists(deployment_runs.filter(status=RunStatus.QUEUED, created_at__lt=run.created_at)),
                locked=Exists(StateLock.objects.filter(deployment_id=OuterRef("pk"))),
            )
            .values_list("executing", "ahead", "locked")
            .first()
        )
        if held_back is None or any(held_back):
            return None
        try:
            with transaction.atomic():
                moved = run.transition(RunStatus.RUNNING, worker=worker or socket.gethostname())
        except IntegrityError:  # another run of this deployment started in between
            return None
    return run if moved else None


def next_in_line(deployment_id) -> int | None:
    """The run :func:`claim` would take next on the deployment: its oldest queued run, when none executes there
    and no state lock is held (one query); else None."""
    executing = Run.objects.filter(deployment_id=OuterRef("deployment_id"), status__in=RUN_EXECUTING)
    locked = StateLock.objects.filter(deployment_id=OuterRef("deployment_id"))
    return (
        Run.objects.filter(deployment_id=deployment_id, status=RunStatus.QUEUED)
        .filter(~Exists(executing), ~Exists(locked))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
        .first()
    )


def execute_in_line(run_id: int, *, worker: str = "", **kwargs) -> list[int]:
    """Execute the run, then every run queued behind it on the same deployment, in order, here: the worker that
    held the deployment takes the next run itself, without a round trip through the broker. Returns the ids it
    executed.

    The run's own message may find it unclaimable (another run of the deployment executes; that one's worker
    goes on with it): then it only looks whether the deployment's line is free (a redelivered message of a
    run whose worker died) and takes the next run if so. Once the worker is stopping (a warm shutdown marks it:
    :func:`workdirs.mark_stopping`) it takes no further run: the next one goes back to the broker.
    """
    deployment_id = Run.objects.filter(pk=run_id).values_list("deployment_id", flat=True).first()
    if deployment_id is None:
        return []
    done = [run_id] if execute(run_id, worker=worker, **kwargs) else []
    passed: set[int] = set()
    while (next_id := next_in_line(deployment_id)) is not None and next_id not in passed:
        if workdirs.is_stopping(Path(settings.SLIPWAY_WORKDIR), worker):
            from .tasks import run_enqueue

            run_enqueue(run_id=next_id)  # its own message already ended: send it again for another worker
            break
        if execute(next_id, worker=worker, **kwargs):
            done.append(next_id)
        else:
            passed.add(next_id)  # cancelled or taken meanwhile: the one behind it is looked at next
    return done


def execute(run_id: int, *, pipeline: Pipeline = PIPELINE, engine_factory=EngineProcess, worker: str = "") -> bool:
    """Claim the run and take it through the pipeline; end it whatever happens (``engine_factory``: tests
    pass a fake engine; ``worker``: the Celery node name, recorded on the run). False when it was not ours
    to take (:func:`claim`)."""
    run = claim(run_id, worker)
    if run is None:
        return False
    base = Path(settings.SLIPWAY_WORKDIR)
    try:
        base.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"run-{run.pk}-", dir=base, ignore_cleanup_errors=True) as workdir:
            lock_fd = workdirs.claim(Path(workdir), run)
            ex = None
            try:
                ex = Execution(run, Path(workdir), engine_factory, lock_fd=lock_fd)
                follow(ex, pipeline)
            finally:
                try:
                    if ex is not None:
                        steps.settle_review(ex)  # before the folder goes: a review may still be read in it
                finally:
                    os.close(lock_fd)
    except RunStopped as stop:
        finish(run, stop.status, str(stop))
    except (RunFailed, EngineNotFound, KeyMismatch) as exc:  # one sentence each, no traceback
        finish(run, RunStatus.FAILED, str(exc))
    except Exception as exc:  # never leave a run running; people get a sentence, the worker log the traceback
        log.exception("run %s crashed", run.pk)
        finish(
            run,
            RunStatus.FAILED,
            f"Slipway failed while running this ({type(exc).__name__}); the details are in the log of worker "
            f"{run.worker or 'unknown'}, under run {run.pk}.",
        )
    return True


def follow(ex: Execution, pipeline: Pipeline = PIPELINE) -> None:
    """The stages in order. A confirmed plan skips the gate (a person already let it through); any other
    plan goes through the gate's steps, and :func:`gate.decide` says whether it applies."""
    run = ex.run
    what = "apply of the reviewed plan" if ex.reviewed else run.action
    ex.log.system(f"Run #{run.pk}: {what} of {run.deployment} with {run.bundle_version}")
    pipeline.run_stage(INPUTS, ex)
    pipeline.run_stage(PLAN, ex)
    if not ex.reviewed:
        pipeline.run_stage(GATE, ex)
        decision = decide(action=run.action, summary=ex.summary, holds=ex.holds)
        if not decision.apply:
            conclude(ex, decision, pipeline)
            return
    pipeline.run_stage(APPLY, ex)
    pipeline.run_stage(AFTER_APPLY, ex)
    finish(run, RunStatus.SUCCEEDED, "")


def conclude(ex: Execution, decision: Decision, pipeline: Pipeline = PIPELINE) -> None:
    """End a run the gate did not let apply: keep its plan for the person who must act, or refresh the
    outputs of a plan that changes nothing."""
    if decision.keep_plan:
        steps.keep_plan(ex)
    if decision.why:
        ex.log.system(decision.why)
    if decision.outputs:
        pipeline.run_stage(AFTER_APPLY, ex)
    finish(ex.run, decision.status, "")


def finish(run: Run, status: str, error: str) -> None:
    """Put the run in its final (or waiting) status, expire its state credential, settle the deployment."""
    run.refresh_from_db(fields=["status", "cancel_requested"])
    if run.is_terminal:
        return
    if run.cancel_requested and status == RunStatus.FAILED:
        status = RunStatus.CANCELLED
    with transaction.atomic():
        # An interrupted run's engine may still be saving state (its worker died, it did not): its
        # credential works until it releases the lock (state_backend).
        credential = {} if status == RunStatus.INTERRUPTED else {"state_credential": ""}
        if not run.transition(status, error=error[:20000], **credential):
            return
        deployment = Deployment.objects.select_for_update().get(pk=run.deployment_id)
        if status != RunStatus.INTERRUPTED:
            # The engine has exited (we waited for it): a lock it still holds is stale.
            StateLock.objects.filter(deployment=deployment, run=run).delete()
        settle_deployment(run)
        if status == RunStatus.SUCCEEDED:
            event = {RunAction.PLAN: "run.planned", RunAction.DESTROY: "run.destroyed"}.get(run.action, "run.applied")
        else:
            event = EVENT_FOR_STATUS.get(status, f"run.{status}")
        record_event(
            event_type=event,
            actor=None,
            target=deployment,
            data={"run": run.pk, "action": run.action, "status": status, "error": error[:500]},
        )
        run_finished.send(sender=Run, run=run, deployment=deployment)


def reap_interrupted(*, stale_after: float) -> list[Run]:
    """Mark executing runs whose worker stopped sending heartbeats as interrupted; report held locks."""
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    reaped = []
    for run in Run.objects.filter(status__in=RUN_EXECUTING, heartbeat_at__lt=cutoff).select_related("deployment"):
        lock = StateLock.objects.filter(deployment_id=run.deployment_id).first()
        message = (
            f"The worker running this ({run.worker or 'unknown'}) stopped responding; last heartbeat at "
            f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC."
        )
        if lock is not None:
            message += (
                f" Its engine was told to stop and save its state; the state lock {lock.lock_id} is still in place. "
                "If it is not released within a few minutes, check the resources, then an ops admin can "
                "force-unlock it from the deployment page before the next run."
            )
        finish(run, RunStatus.INTERRUPTED, message)
        reaped.append(run)
        if lock is None:
            # Nothing holds the deployment any more: the run queued behind goes now (with a lock left, the
            # engine's UNLOCK, or ops' force-unlock, sends it).
            # why: tasks imports the runner
            from .tasks import run_enqueue_next

            run_enqueue_next(deployment_id=run.deployment_id)
    return reaped
