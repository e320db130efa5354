"""Writes for drift: request a check, execute one (the worker), and act on what it found.

Revert and accept are not side doors: revert is :func:`deployments.services.deployment_reapply` (the
normal plan, policy and approval path) and accept is :func:`deployments.services.deployment_update` with
the observed values (validated, through policy, with the basis "accepted drift #N"). Both are audit
events, and the check records who resolved it, how and why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from portal.actor import actor_fields, actor_name
from portal.crypto import KeyMismatch
from portal.errors import ServiceError
from portal.events import record_event
from portal.history import record_change

from .. import services as deployment_services
from ..choices import DeploymentStatus, RunAction, RunStatus
from ..models import Deployment, Run, StateResource
from ..notifications import notify
from ..runs import workdirs
from ..runs.engine import EngineNotFound
from ..runs.execution import MASK, Redactor
from ..secrets import values as secret_values
from .check import CheckFailed, Finding, latest_state, refresh
from .models import DRIFT_PENDING, DriftCheck, DriftStatus, Resolution
from .observed import set_path
from .selectors import drift_acceptable

log = logging.getLogger(__name__)

# Deployments a check means something for: the engine has applied them and they are not going away.
CHECKABLE = (DeploymentStatus.LIVE, DeploymentStatus.DRIFTED, DeploymentStatus.FAILED, DeploymentStatus.DEPLOYING)
# Runs that change the state: while one of these is on a deployment, a check waits its turn.
RUN_BUSY = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.APPLYING)
RETRY_AFTER_SECONDS = 1.0


def _enqueue_dispatch() -> None:
    from .dispatch import drift_dispatch  # why: dispatch imports the tasks, which import this module

    transaction.on_commit(drift_dispatch)


@transaction.atomic
def drift_check_request(*, deployment: Deployment, actor, channel: str = "ui") -> DriftCheck:
    """Queue a check of ``deployment`` (on demand or by the schedule); one already waiting is returned instead."""
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if deployment.status not in CHECKABLE:
        raise ServiceError(
            f"{deployment.name} is {deployment.get_status_display().lower()}: there is nothing to check."
        )
    if not deployment.state_versions.exists():
        raise ServiceError(f"{deployment.name} has never been applied: there is no state to compare with the cloud.")
    pending = deployment.drift_checks.filter(status__in=DRIFT_PENDING).order_by("created_at").first()
    if pending is not None:
        return pending
    check = DriftCheck.objects.create(deployment=deployment, channel=channel, **actor_fields(actor))
    if channel != "schedule":  # the schedule's own checks would flood the timeline
        record_event(
            event_type="drift.check_requested",
            actor=actor,
            target=deployment,
            channel=channel,
            data={"check": check.pk},
        )
    _enqueue_dispatch()
    return check


def _claim(check_id: int) -> DriftCheck | None:
    moved = DriftCheck.objects.filter(pk=check_id, status=DriftStatus.QUEUED).update(
        status=DriftStatus.RUNNING, started_at=timezone.now()
    )
    if not moved:
        return None
    return DriftCheck.objects.select_related(
        "deployment__bundle_version", "deployment__environment__project__team"
    ).get(pk=check_id)


def _end(check: DriftCheck, status: str, **fields) -> DriftCheck:
    fields.update(status=status, finished_at=timezone.now())
    DriftCheck.objects.filter(pk=check.pk).update(**fields)
    for key, value in fields.items():
        setattr(check, key, value)
    return check


def drift_check_execute(check_id: int) -> DriftCheck | None:
    """Run one queued check (the worker): skip it while a run changes the deployment, else refresh a copy of
    the latest state and record what differs. Whatever happens, the check ends finished."""
    check = _claim(check_id)
    if check is None:
        return None
    deployment = check.deployment
    busy = deployment.runs.filter(status__in=RUN_BUSY).order_by("created_at").first()
    if busy is not None:
        return _end(check, DriftStatus.SKIPPED, error=f"Run #{busy.pk} is changing {deployment.name}; not checked.")
    try:
        state_version, state_json = latest_state(deployment)
        if state_version is None:
            return _end(check, DriftStatus.ERROR, error="There is no state to compare: it was never applied.")
        DriftCheck.objects.filter(pk=check.pk).update(state_version=state_version, state_serial=state_version.serial)
        check.state_version, check.state_serial = state_version, state_version.serial
        known = secret_values(deployment.sensitive_params) + secret_values(deployment.sensitive_outputs)
        redactor = Redactor(known)
        base = Path(settings.SLIPWAY_WORKDIR)
        base.mkdir(parents=True, exist_ok=True)
        finding = _refresh_twice(check, deployment, state_json, redactor, base)
    except CheckFailed as exc:
        return _end(check, DriftStatus.ERROR, error=str(exc)[:20000])
    except (EngineNotFound, KeyMismatch) as exc:
        return _end(check, DriftStatus.ERROR, error=str(exc))
    except Exception as exc:  # never leave a check running
        log.exception("drift check %s crashed", check.pk)
        return _end(check, DriftStatus.ERROR, error=f"Slipway error: {exc}")
    return _record(check, state_version, finding)


def _refresh_twice(check: DriftCheck, deployment: Deployment, state_json: bytes, redactor: Redactor, base: Path):
    """The refresh, tried again once when the engine fails: a check changes nothing, so a retry is always safe,
    and it rides out the engine's own transient failures (before each worker process had its own plugin cache,
    concurrent ``init``s failed with "Failed to install provider" or "could not read package directory")."""
    for attempt in (1, 2):
        with tempfile.TemporaryDirectory(prefix=f"drift-{check.pk}-", dir=base, ignore_cleanup_errors=True) as tmp:
            # Held while the check (or an engine its worker left) works there; a starting worker removes it once
            # free, with the decrypted state it holds.
            lock_fd = workdirs.hold(Path(tmp))
            try:
                return refresh(
                    deployment=deployment, state_json=state_json, workdir=Path(tmp), redactor=redactor, lock_fd=lock_fd
                )
            except CheckFailed as exc:
                if attempt == 2:
                    raise
                log.warning("drift check %s failed once, trying again: %s", check.pk, str(exc)[:300])
            finally:
                os.close(lock_fd)
        time.sleep(RETRY_AFTER_SECONDS)
    raise AssertionError("unreachable")


def _fingerprint(resources: list[dict]) -> str:
    """The same drift found again hashes the same (the cloud's values included), so owners are told once."""
    key = [(r["address"], r["action"], [(c["path"], c.get("after")) for c in r["changes"]]) for r in resources]
    return hashlib.sha256(json.dumps(sorted(key, key=str), default=str).encode()).hexdigest()


@transaction.atomic
def _record(check: DriftCheck, state_version, finding: Finding) -> DriftCheck:
    deployment = Deployment.objects.select_for_update().get(pk=check.deployment_id)
    latest, _ = latest_state(deployment)
    text_log = "\n".join(finding.log)[-200_000:]
    if latest is not None and latest.pk != state_version.pk:
        return _end(
            check,
            DriftStatus.SKIPPED,
            log=text_log,
            error="A run wrote a new state while this check read the cloud, so its result is already old.",
        )
    previous = (
        deployment.drift_checks.filter(status__in=(DriftStatus.DRIFTED, DriftStatus.IN_SYNC))
        .exclude(pk=check.pk)
        .order_by("-finished_at", "-id")
        .first()
    )
    status = DriftStatus.DRIFTED if finding.drifted else DriftStatus.IN_SYNC
    _end(
        check,
        status,
        resources=finding.resources,
        observed=finding.observed,
        drifted_attributes=finding.attribute_names(),
        log=text_log,
    )
    _index(deployment, state_version, finding)
    if finding.drifted:
        _drift_found(check, deployment, previous)
    else:
        _in_sync(check, deployment)
    return check


def _index(deployment: Deployment, state_version, finding: Finding) -> None:
    """The estate's resource index follows what the cloud holds now (masked values left out)."""
    StateResource.objects.filter(deployment=deployment).delete()
    StateResource.objects.bulk_create(
        StateResource(
            deployment=deployment,
            state_version=state_version,
            address=row["address"],
            type=row["type"],
            attributes={k: v for k, v in row["attributes"].items() if v != MASK},
        )
        for row in finding.observed
    )


def _drift_found(check: DriftCheck, deployment: Deployment, previous: DriftCheck | None) -> None:
    same = (
        previous is not None
        and previous.status == DriftStatus.DRIFTED
        and not previous.resolution
        and _fingerprint(previous.resources) == _fingerprint(check.resources)
    )
    # The latest drift is the one to act on: earlier unresolved ones are superseded (they can no longer be
    # reverted or accepted, and the estate's drift.attribute reads only the latest).
    earlier = deployment.drift_checks.filter(status=DriftStatus.DRIFTED, resolution="").exclude(pk=check.pk)
    earlier.update(resolution=Resolution.SUPERSEDED, resolved_at=timezone.now(), resolved_by_name="system")
    if deployment.status == DeploymentStatus.LIVE:
        deployment.status = DeploymentStatus.DRIFTED
        record_change(deployment, channel="system", note=f"drift check #{check.pk} found drift")
        deployment.save(update_fields=["status", "updated_at"])
    if same:
        return
    record_event(
        event_type="drift.detected",
        actor=None,
        target=deployment,
        channel="system",
        data={"check": check.pk, "resources": [r["words"] for r in check.resources][:20]},
    )
    members = get_user_model().objects.filter(memberships__team=deployment.environment.project.team, is_active=True)
    lines = [r["words"] for r in check.resources]
    for resource in check.resources:
        lines += [f"  {c['path']}: {c['before']} → {c['after']}" for c in resource["changes"]][:20]
    notify(
        subject=f"Drift in {deployment}",
        body=f"Drift check #{check.pk} found what the cloud holds differs from {deployment}:\n" + "\n".join(lines),
        path=deployment.get_absolute_url() + "#live",
        recipients=sorted({u.email for u in members if u.email}),
        event="drift.detected",
    )


def _in_sync(check: DriftCheck, deployment: Deployment) -> None:
    unresolved = deployment.drift_checks.filter(status=DriftStatus.DRIFTED, resolution="").exclude(pk=check.pk)
    unresolved.update(resolution=Resolution.CLEARED, resolved_at=timezone.now(), resolved_by_name="system")
    if deployment.status == DeploymentStatus.DRIFTED:
        deployment.status = DeploymentStatus.LIVE
        record_change(deployment, channel="system", note=f"drift check #{check.pk}: in sync again")
        deployment.save(update_fields=["status", "updated_at"])
        record_event(
            event_type="drift.cleared", actor=None, target=deployment, channel="system", data={"check": check.pk}
        )


# --- acting on drift ------------------------------------------------------------------------------


def _resolvable(check: DriftCheck) -> DriftCheck:
    check = DriftCheck.objects.select_for_update().select_related("deployment").get(pk=check.pk)
    if check.status != DriftStatus.DRIFTED:
        raise ServiceError(f"Drift check #{check.pk} found no drift ({check.get_status_display().lower()}).")
    if check.resolution:
        raise ServiceError(f"The drift of check #{check.pk} was already {check.get_resolution_display().lower()}.")
    newer = check.deployment.drift_checks.filter(
        status__in=(DriftStatus.DRIFTED, DriftStatus.IN_SYNC), created_at__gt=check.created_at
    )
    if newer.exists():
        raise ServiceError(f"A newer drift check of {check.deployment.name} exists: act on that one.")
    return check


def _resolve(check: DriftCheck, resolution: str, *, actor, reason: str, run: Run) -> None:
    fields = {
        "resolution": resolution,
        "resolved_at": timezone.now(),
        "resolution_reason": reason,
        "resolution_run": run,
        **actor_fields(actor, "resolved_by"),
    }
    DriftCheck.objects.filter(pk=check.pk).update(**fields)
    for key, value in fields.items():
        setattr(check, key, value)


@transaction.atomic
def drift_revert(*, check: DriftCheck, actor, channel: str = "ui", reason: str = "") -> Run:
    """Put the cloud back to the configuration: apply it again, through the normal plan and policy path (a
    revert that would replace or recreate something stops for review, or for ops where the policy says so)."""
    check = _resolvable(check)
    said = f"revert drift found by check #{check.pk}" + (f": {reason}" if reason else "")
    run = deployment_services.deployment_reapply(deployment=check.deployment, actor=actor, channel=channel, reason=said)
    _resolve(check, Resolution.REVERTED, actor=actor, reason=reason, run=run)
    record_event(
        event_type="drift.reverted",
        actor=actor,
        target=check.deployment,
        channel=channel,
        data={"check": check.pk, "run": run.pk, "reason": reason},
    )
    return run


@transaction.atomic
def drift_accept(*, check: DriftCheck, actor, channel: str = "ui", reason: str = "") -> Run:
    """Make the observed values the configuration: a params change (validated, through the environment's
    policy, with the basis "accepted drift #N") and its apply, which finds the cloud already so."""
    check = _resolvable(check)
    deployment = check.deployment
    items = drift_acceptable(check)
    if not items:
        raise ServiceError(
            "None of the drifted attributes maps to a param of this bundle (x-observed-from), so the drift "
            "can only be reverted."
        )
    params = deployment.full_params()
    for item in items:
        params = set_path(params, item.path, item.observed)
    said = f"accept drift found by check #{check.pk}" + (f": {reason}" if reason else "")
    run = deployment_services.deployment_update(
        deployment=deployment,
        params=params,
        actor=actor,
        channel=channel,
        reason=said,
        basis_note=f"accepted drift #{check.pk}",
    )
    _resolve(check, Resolution.ACCEPTED, actor=actor, reason=reason, run=run)
    record_event(
        event_type="drift.accepted",
        actor=actor,
        target=deployment,
        channel=channel,
        data={
            "check": check.pk,
            "run": run.pk,
            "reason": reason,
            "params": {i.pointer: [i.current, i.observed] for i in items},
            "accepted_by": actor_name(actor),
        },
    )
    return run


def check_after_resolution(sender, run: Run, deployment: Deployment, **kwargs) -> None:
    """``run_finished``: once the apply that reverted or accepted a drift succeeds, check again, so the
    deployment's page shows the cloud in line (and the deployment is no longer drifted) from a fresh read."""
    if run.action != RunAction.APPLY or run.status != RunStatus.SUCCEEDED:
        return
    if not DriftCheck.objects.filter(resolution_run=run).exists():
        return
    if deployment.drift_checks.filter(status__in=DRIFT_PENDING).exists():
        return
    DriftCheck.objects.create(deployment=deployment, channel="system", requested_by_name="system")
    _enqueue_dispatch()
