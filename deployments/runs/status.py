"""One rule for a deployment's status after a run outcome.

The runner (a run that ends or stops for a person), cancel, an ops rejection and the reaper (a
worker that died) all settle the deployment through :func:`deployment_status_after`; the pure
rule is unit-tested on its own, :func:`settle_deployment` applies it to the rows.
"""

from __future__ import annotations

import json

from portal.crypto import decrypt
from portal.history import record_change

from ..choices import DeploymentStatus, RunAction, RunStatus
from ..models import Deployment, StateVersion


def _state_holds_resources(deployment: Deployment) -> bool:
    latest = StateVersion.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()
    if latest is None:
        return False
    return bool(json.loads(decrypt(bytes(latest.encrypted_state))).get("resources"))


# Runs that will still change the deployment: while one of these exists, a run that merely stops
# (cancelled, waiting for a person) does not settle the deployment back to rest.
RUN_PENDING = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.APPLYING)
_IN_FLIGHT = (DeploymentStatus.DEPLOYING, DeploymentStatus.DESTROYING)


def deployment_status_after(
    *,
    action: str,
    run_status: str,
    current: str,
    applied_before: bool,
    others_pending: bool,
    holds_resources: bool = False,
) -> str | None:
    """The deployment's new status once a run of ``action`` reached ``run_status``, or None to leave it.

    - An apply that succeeded makes it live; a destroy that succeeded, destroyed. A plan changes nothing.
    - An apply or destroy that failed, or whose worker died, leaves it failed.
    - A run that stopped without changing anything (cancelled, rejected, waiting for a review or an
      approval) puts a deploying or destroying deployment back to rest: live if an apply ever
      succeeded, else draft; unless another run is still on its way to change it.
    - But a first apply cancelled after it created resources (``holds_resources``: its state has some)
      leaves it failed, not draft: something exists in the cloud that no successful apply made.
    - ``drifted`` is set and cleared by drift checks (``deployments.drift``), not by runs; an apply that
      succeeds makes a drifted deployment live, as the configuration was just applied again.
    """
    if run_status == RunStatus.SUCCEEDED:
        return {RunAction.APPLY: DeploymentStatus.LIVE, RunAction.DESTROY: DeploymentStatus.DESTROYED}.get(action)
    if run_status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
        return DeploymentStatus.FAILED if action != RunAction.PLAN else None
    if current in _IN_FLIGHT and not others_pending:
        if applied_before:
            return DeploymentStatus.LIVE
        return DeploymentStatus.FAILED if holds_resources and action == RunAction.APPLY else DeploymentStatus.DRAFT
    return None


def _settled_because(run) -> str:
    """The history note of a settled status, in words: a plan that waits changed nothing yet."""
    if run.status == RunStatus.AWAITING_APPROVAL:
        return f"run #{run.pk} {run.action}: the plan waits for platform ops to approve it; nothing applied yet"
    if run.status == RunStatus.PLANNED:
        return f"run #{run.pk} {run.action}: the plan waits for a review; nothing applied yet"
    return f"run #{run.pk} {run.action} {run.get_status_display().lower()}"


def settle_deployment(run, *, note: str = "") -> str | None:
    """Apply the rule to ``run``'s deployment (call it inside the transaction that moved the run).
    Returns the new status, or None when the deployment stays as it is."""
    deployment = Deployment.objects.select_for_update().get(pk=run.deployment_id)
    runs = deployment.runs.exclude(pk=run.pk)
    applied_before = deployment.runs.filter(status=RunStatus.SUCCEEDED, action=RunAction.APPLY).exists()
    holds = (
        not applied_before
        and run.action == RunAction.APPLY
        and run.status == RunStatus.CANCELLED
        and _state_holds_resources(deployment)
    )
    new = deployment_status_after(
        action=run.action,
        run_status=run.status,
        current=deployment.status,
        applied_before=applied_before,
        others_pending=runs.filter(status__in=RUN_PENDING).exists(),
        holds_resources=holds,
    )
    if new is None or new == deployment.status:
        return None
    deployment.status = new
    if holds and not note:
        note = f"run #{run.pk} {run.action} cancelled after it created resources (they are in its state)"
    record_change(deployment, note=note or _settled_because(run))
    deployment.save(update_fields=["status", "updated_at"])
    return new
