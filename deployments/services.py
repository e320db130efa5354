"""Writes for deployments and runs. Views, API, admin and tasks all come through here."""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.utils import timezone

from audit.history import change_reason
from audit.services import audit_event_record
from bundles.models import BundleVersion
from bundles.schema import param_errors
from portal.crypto import decrypt

from . import notifications, policy, secrets
from .choices import DeploymentStatus, RunAction, RunStatus
from .models import Deployment, Environment, ExceptionRequest, Run, StateLock

log = logging.getLogger(__name__)


class ParamsInvalid(Exception):
    """Params that fail the schema; ``errors`` maps JSON pointers to messages."""

    def __init__(self, errors: dict[str, list[str]], message: str = "The parameters are not valid."):
        self.errors = errors
        self.message = message
        super().__init__(message)


class PolicyViolation(ParamsInvalid):
    """Params the bundle accepts but the environment's policy does not; they need an exception."""

    def __init__(self, check):
        self.check = check
        super().__init__(check.errors, check.message())


class ServiceError(Exception):
    """A request that cannot be carried out, with a message for the user."""

    def __init__(self, message: str, *, field: str | None = None):
        self.message = message
        self.field = field
        super().__init__(message)


def params_validate(*, bundle_version: BundleVersion, params: dict) -> None:
    """Raise ParamsInvalid unless ``params`` satisfy the bundle version's schema."""
    if not isinstance(params, dict):
        raise ParamsInvalid({"": ["The parameters must be a JSON object."]})
    errors = param_errors(bundle_version.params_schema, params)
    if errors:
        raise ParamsInvalid(errors)


def params_approve(
    *,
    environment: Environment,
    bundle_version: BundleVersion,
    params: dict,
    exception: ExceptionRequest | None,
    current: dict | None = None,
) -> str:
    """Validate params for the bundle and the environment's policy; return the approval basis.

    In-policy params are approved by the policy itself. Anything else needs an approved exception,
    except values that stay as they are: an exception granted once is not undone by the next,
    unrelated change (``current`` holds the deployment's params before this change).
    """
    params_validate(bundle_version=bundle_version, params=params)
    check = policy.check_params(environment=environment, bundle_version=bundle_version, params=params)
    if check.ok:
        return f"approved by policy {check.policy.label}"
    if exception is not None and exception.status == ExceptionRequest.Status.APPROVED:
        return f"approved by exception #{exception.pk} ({exception.decided_by_name})"
    kept = current is not None and check.bundle_allowed and check.fields and "" not in check.errors
    if kept and all(params.get(name) == current.get(name) for name in check.fields):
        return f"approved by policy {check.policy.label}; kept as approved before: {', '.join(check.fields)}"
    raise PolicyViolation(check)


def immutable_errors(*, deployment: Deployment, params: dict) -> dict[str, list[str]]:
    """``x-immutable`` params that would change although the deployment has applied once."""
    if not deployment.runs.filter(status=RunStatus.SUCCEEDED, action=RunAction.APPLY).exists():
        return {}
    current = deployment.full_params()
    errors = {}
    for name, sub in (deployment.bundle_version.params_schema.get("properties") or {}).items():
        if isinstance(sub, dict) and sub.get("x-immutable") and params.get(name) != current.get(name):
            errors[f"/{name}"] = [
                f"{sub.get('title') or name} cannot change after the first apply (it is {current.get(name)!r}). "
                "Create a new deployment to change it."
            ]
    return errors


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
) -> Deployment:
    """Create a deployment and queue its first apply (or a plan for review when ``auto_apply`` is off)."""
    basis = params_approve(environment=environment, bundle_version=bundle_version, params=params, exception=exception)
    if Deployment.objects.filter(environment=environment, name=name).exists():
        raise ServiceError(f"A deployment named {name!r} already exists in {environment}.", field="name")
    masked, encrypted = secrets.split(bundle_version.params_schema, params)
    deployment = Deployment(
        environment=environment,
        name=name,
        bundle_version=bundle_version,
        params=masked,
        sensitive_params=encrypted,
        status=DeploymentStatus.DEPLOYING,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    deployment.full_clean(exclude=["sensitive_outputs", "sensitive_params", "created_by"])
    deployment._change_reason = change_reason(channel=channel, actor=actor, basis=basis, note=reason or "created")
    deployment.save()
    run_request(
        deployment=deployment,
        action=RunAction.APPLY,
        actor=actor,
        channel=channel,
        reason=reason,
        auto_apply=auto_apply,
        approval_basis=basis,
    )
    return deployment


@transaction.atomic
def run_request(
    *,
    deployment: Deployment,
    action: str,
    actor,
    channel: str = "ui",
    reason: str = "",
    auto_apply: bool = True,
    approval_basis: str = "",
) -> Run:
    """Queue a run of the deployment's current configuration. It waits behind any run already active."""
    if not approval_basis and action != RunAction.APPLY:
        approval_basis = f"{action} requested by {getattr(actor, 'username', '') or 'system'}"
    run = Run.objects.create(
        deployment=deployment,
        action=action,
        bundle_version=deployment.bundle_version,
        params=deployment.params,
        sensitive_params=deployment.sensitive_params,
        auto_apply=auto_apply,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        requested_by_name=getattr(actor, "username", "") or "system",
        channel=channel,
        reason=reason,
        approval_basis=approval_basis,
    )
    if action == RunAction.DESTROY and deployment.status != DeploymentStatus.DESTROYING:
        deployment.status = DeploymentStatus.DESTROYING
        deployment._change_reason = change_reason(
            channel=channel, actor=actor, note=f"destroy requested: {reason}" if reason else "destroy requested"
        )
        deployment.save(update_fields=["status", "updated_at"])
    audit_event_record(
        event_type="run.requested",
        actor=actor,
        target=deployment,
        channel=channel,
        data={"run": run.pk, "action": action, "bundle_version": str(deployment.bundle_version), "reason": reason},
    )
    transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    return run


def run_enqueue(*, run_id: int) -> bool:
    """Send the run's task to the broker. Never raises: a run the broker did not take stays queued in
    the database and the periodic requeue sends it again, so an accepted request is never lost."""
    from .tasks import execute_run

    try:
        execute_run.apply_async(args=[run_id], retry=False)
    except Exception:  # the broker is down or unreachable
        log.warning("broker unavailable; run %s stays queued for the periodic requeue", run_id, exc_info=True)
        return False
    Run.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    return True


def run_enqueue_next(*, deployment_id) -> None:
    """Send the oldest queued run of a deployment, if any: called when whatever held it back is gone."""
    next_run = (
        Run.objects.filter(deployment_id=deployment_id, status=RunStatus.QUEUED).order_by("created_at", "id").first()
    )
    if next_run is not None:
        run_enqueue(run_id=next_run.pk)


@transaction.atomic
def run_cancel(*, run: Run, actor, channel: str = "ui") -> Run:
    """Cancel a queued run at once; ask a running one to stop (the runner acts on the flag)."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.is_terminal:
        raise ServiceError(f"Run #{run.pk} has already finished ({run.get_status_display().lower()}).")
    if run.status in (RunStatus.QUEUED, RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL):
        run.transition(RunStatus.CANCELLED, cancel_requested=True, error=f"Cancelled by {actor}.")
        _settle_deployment_after_cancel(run)
    else:
        Run.objects.filter(pk=run.pk).update(cancel_requested=True)
        run.cancel_requested = True
    audit_event_record(
        event_type="run.cancel_requested", actor=actor, target=run.deployment, channel=channel, data={"run": run.pk}
    )
    return run


def _settle_deployment_after_cancel(run: Run) -> None:
    deployment = run.deployment
    if deployment.runs.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.APPLYING]).exists():
        return
    if deployment.status in (DeploymentStatus.DEPLOYING, DeploymentStatus.DESTROYING):
        ever_applied = deployment.runs.filter(status=RunStatus.SUCCEEDED).exclude(action=RunAction.PLAN).exists()
        deployment.status = DeploymentStatus.LIVE if ever_applied else DeploymentStatus.DRAFT
        deployment._change_reason = "run cancelled"
        deployment.save(update_fields=["status", "updated_at"])


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
) -> Run:
    """Change a deployment's params (and optionally move it to another version of its bundle) and queue
    the apply that makes them real.

    ``expected_version`` is the optimistic lock: a form rendered from version N is refused if
    someone else saved N+1 meanwhile, instead of silently overwriting their change.
    """
    locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if locked.status in (DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED):
        raise ServiceError(f"{locked.name} is {locked.get_status_display().lower()}; it cannot be changed.")
    if expected_version is not None and locked.version != expected_version:
        raise ServiceError(
            f"{locked.name} was changed by someone else while you were editing (version {expected_version} "
            f"is now {locked.version}). Reload to see their change."
        )
    if bundle_version is not None and bundle_version.bundle_id != locked.bundle_version.bundle_id:
        raise ServiceError(f"{bundle_version} is not a version of {locked.bundle_version.bundle.name}.")
    immutable = immutable_errors(deployment=locked, params=params)
    if immutable:
        raise ParamsInvalid(immutable, "Some fields cannot change after the first apply.")
    target = bundle_version or locked.bundle_version
    basis = params_approve(
        environment=locked.environment,
        bundle_version=target,
        params=params,
        exception=exception,
        current=locked.full_params(),
    )
    locked.bundle_version = target
    locked.params, locked.sensitive_params = secrets.split(target.params_schema, params)
    locked.version += 1
    locked.status = DeploymentStatus.DEPLOYING
    locked._change_reason = change_reason(channel=channel, actor=actor, basis=basis, note=reason)
    locked.save()
    deployment.refresh_from_db()
    return run_request(
        deployment=locked,
        action=RunAction.APPLY,
        actor=actor,
        channel=channel,
        reason=reason,
        auto_apply=auto_apply,
        approval_basis=basis,
    )


def deployment_destroy(*, deployment: Deployment, actor, channel: str = "ui", reason: str = "") -> Run:
    """Queue the destruction of everything the deployment created."""
    if deployment.status == DeploymentStatus.DESTROYED:
        raise ServiceError(f"{deployment.name} is already destroyed.")
    return run_request(deployment=deployment, action=RunAction.DESTROY, actor=actor, channel=channel, reason=reason)


@transaction.atomic
def run_confirm_apply(*, run: Run, actor, channel: str = "ui") -> Run:
    """Apply a reviewed plan: the planned run goes back in the queue and the worker applies the saved plan."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.PLANNED:
        raise ServiceError(f"Run #{run.pk} is {run.get_status_display().lower()}, not a plan waiting to be applied.")
    if run.action == RunAction.PLAN:
        raise ServiceError("A plan-only run cannot be applied; request an apply.")
    name = getattr(actor, "username", "") or "system"
    run.transition(RunStatus.QUEUED, apply_confirmed_by=name, enqueued_at=None)
    audit_event_record(
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
        raise ServiceError(f"Run #{lock.run_id} is still running and holds the lock; cancel it instead.")
    info = {"lock_id": lock.lock_id, "info": lock.info, "run": lock.run_id, "reason": reason}
    lock.delete()
    transaction.on_commit(lambda: run_enqueue_next(deployment_id=deployment.pk))
    audit_event_record(event_type="state.lock_forced", actor=actor, target=deployment, channel=channel, data=info)
    return info


def sensitive_output_reveal(*, deployment: Deployment, name: str, actor, channel: str = "ui"):
    """Return one sensitive output in clear, and record that this person saw it."""
    stored = json.loads(decrypt(bytes(deployment.sensitive_outputs))) if deployment.sensitive_outputs else {}
    if name not in stored:
        raise ServiceError(f"{deployment.name} has no sensitive output {name!r}.")
    audit_event_record(
        event_type="secret.revealed", actor=actor, target=deployment, channel=channel, data={"output": name}
    )
    return stored[name]


# --- Approvals and exceptions ----------------------------------------------------------------


def _ops_only(actor) -> None:
    from django.core.exceptions import PermissionDenied

    from portal.roles import is_ops

    if not is_ops(actor):
        raise PermissionDenied("Only platform ops can decide this.")


def _held_run(run: Run) -> Run:
    """The run, locked, if it is still waiting for an ops decision."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.AWAITING_APPROVAL:
        raise ServiceError(f"Run #{run.pk} is {run.get_status_display().lower()}, not awaiting approval.")
    return run


def _tell_requester(*, user, subject: str, body: str, path: str, event: str) -> None:
    notifications.notify(
        subject=subject, body=body, path=path, recipients=[user.email] if user and user.email else [], event=event
    )


@transaction.atomic
def run_approve(*, run: Run, actor, comment: str = "", channel: str = "ui") -> Run:
    """Ops approve a plan the policy held back: the worker applies exactly that plan."""
    _ops_only(actor)
    run = _held_run(run)
    name = getattr(actor, "username", "") or "system"
    basis = f"{run.approval_basis}; plan approved by {name}" + (f": {comment}" if comment else "")
    run.transition(RunStatus.QUEUED, apply_confirmed_by=name, approval_basis=basis[:255], enqueued_at=None)
    audit_event_record(
        event_type="run.approved",
        actor=actor,
        target=run.deployment,
        channel=channel,
        data={"run": run.pk, "comment": comment},
    )
    _tell_requester(
        user=run.requested_by,
        subject=f"Run #{run.pk} of {run.deployment} approved",
        body=f"{name} approved the plan of run #{run.pk}. {comment}".strip(),
        path=run.get_absolute_url(),
        event="run.approved",
    )
    transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    return run


@transaction.atomic
def run_reject(*, run: Run, actor, comment: str, channel: str = "ui") -> Run:
    """Ops reject a held plan: it never applies, and the requester sees why."""
    _ops_only(actor)
    if not comment.strip():
        raise ServiceError("Say why the plan is rejected: the requester reads it.")
    run = _held_run(run)
    name = getattr(actor, "username", "") or "system"
    run.transition(RunStatus.CANCELLED, error=f"Rejected by {name}: {comment}", plan_file=None)
    _settle_deployment_after_cancel(run)
    audit_event_record(
        event_type="run.rejected",
        actor=actor,
        target=run.deployment,
        channel=channel,
        data={"run": run.pk, "comment": comment},
    )
    _tell_requester(
        user=run.requested_by,
        subject=f"Run #{run.pk} of {run.deployment} rejected",
        body=f"{name} rejected the plan of run #{run.pk}: {comment}",
        path=run.get_absolute_url(),
        event="run.rejected",
    )
    transaction.on_commit(lambda: run_enqueue_next(deployment_id=run.deployment_id))
    return run


@transaction.atomic
def exception_request_create(
    *,
    environment: Environment,
    bundle_version: BundleVersion,
    name: str,
    params: dict,
    reason: str,
    actor,
    deployment: Deployment | None = None,
    channel: str = "ui",
) -> ExceptionRequest:
    """Ask ops to allow params the bundle accepts but the environment's policy does not."""
    if not reason.strip():
        raise ServiceError("Say why you need an exception: ops decide on your reason.", field="reason")
    params_validate(bundle_version=bundle_version, params=params)
    if deployment is not None:
        immutable = immutable_errors(deployment=deployment, params=params)
        if immutable:
            raise ParamsInvalid(immutable, "Some fields cannot change after the first apply.")
    elif Deployment.objects.filter(environment=environment, name=name).exists():
        raise ServiceError(f"A deployment named {name!r} already exists in {environment}.", field="name")
    check = policy.check_params(environment=environment, bundle_version=bundle_version, params=params)
    if check.ok:
        raise ServiceError("These params are within the policy: no exception is needed, just submit them.")
    masked, encrypted = secrets.split(bundle_version.params_schema, params)
    request = ExceptionRequest.objects.create(
        environment=environment,
        bundle_version=bundle_version,
        deployment=deployment,
        name=name,
        params=masked,
        sensitive_params=encrypted,
        violations=check.errors,
        fields=check.fields,
        policy_version=check.policy.version,
        reason=reason,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        requested_by_name=getattr(actor, "username", "") or "system",
    )
    audit_event_record(
        event_type="exception.requested",
        actor=actor,
        target=deployment or environment,
        channel=channel,
        data={"exception": request.pk, "bundle": bundle_version.bundle.name, "fields": check.fields, "reason": reason},
    )
    notifications.notify(
        subject=f"Exception requested for {environment}/{name}",
        body=(
            f"{request.requested_by_name} asks to deploy {bundle_version} as {environment}/{name} outside policy "
            f"v{check.policy.version} ({', '.join(check.fields) or 'bundle not allowed'}).\nWhy: {reason}"
        ),
        path=request.get_absolute_url(),
        recipients=notifications.ops_emails(),
        webhook_url=check.policy.webhook_url,
        event="exception.requested",
    )
    return request


@transaction.atomic
def exception_approve(*, request: ExceptionRequest, actor, comment: str = "", channel: str = "ui") -> Run:
    """Approve an exception: the change it asked for is made and its run proceeds."""
    _ops_only(actor)
    request = ExceptionRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != ExceptionRequest.Status.PENDING:
        raise ServiceError(f"Exception #{request.pk} is already {request.get_status_display().lower()}.")
    name = getattr(actor, "username", "") or "system"
    request.status = ExceptionRequest.Status.APPROVED
    request.decided_by_name = name
    request.decision_comment = comment
    request.decided_at = timezone.now()
    request.save()
    params = secrets.merge(request.params, request.sensitive_params)
    why = f"exception #{request.pk}: {request.reason}"
    requester = request.requested_by or actor
    if request.deployment is None:
        deployment = deployment_create(
            environment=request.environment,
            name=request.name,
            bundle_version=request.bundle_version,
            params=params,
            actor=requester,
            channel=channel,
            reason=why,
            exception=request,
        )
        run = deployment.runs.order_by("-created_at", "-id").first()
    else:
        run = deployment_update(
            deployment=request.deployment,
            params=params,
            actor=requester,
            channel=channel,
            reason=why,
            exception=request,
        )
    request.run = run
    request.save(update_fields=["run"])
    audit_event_record(
        event_type="exception.approved",
        actor=actor,
        target=run.deployment,
        channel=channel,
        data={"exception": request.pk, "comment": comment, "run": run.pk},
    )
    _tell_requester(
        user=request.requested_by,
        subject=f"Exception #{request.pk} approved",
        body=f"{name} approved your exception for {request.environment}/{request.name}. {comment}".strip(),
        path=run.get_absolute_url(),
        event="exception.approved",
    )
    return run


@transaction.atomic
def exception_reject(*, request: ExceptionRequest, actor, comment: str, channel: str = "ui") -> ExceptionRequest:
    """Reject an exception: nothing runs, and the requester sees why."""
    _ops_only(actor)
    if not comment.strip():
        raise ServiceError("Say why the exception is rejected: the requester reads it.", field="comment")
    request = ExceptionRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != ExceptionRequest.Status.PENDING:
        raise ServiceError(f"Exception #{request.pk} is already {request.get_status_display().lower()}.")
    request.status = ExceptionRequest.Status.REJECTED
    request.decided_by_name = getattr(actor, "username", "") or "system"
    request.decision_comment = comment
    request.decided_at = timezone.now()
    request.save()
    audit_event_record(
        event_type="exception.rejected",
        actor=actor,
        target=request.deployment or request.environment,
        channel=channel,
        data={"exception": request.pk, "comment": comment},
    )
    _tell_requester(
        user=request.requested_by,
        subject=f"Exception #{request.pk} rejected",
        body=f"{request.decided_by_name} rejected your exception for {request.environment}/{request.name}: {comment}",
        path=request.get_absolute_url(),
        event="exception.rejected",
    )
    return request


def deployment_reapply(*, deployment: Deployment, actor, channel: str = "ui", reason: str = "", auto_apply=True) -> Run:
    """Apply the deployment's current configuration again (after a failure, or to correct drift)."""
    if deployment.status in (DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED):
        raise ServiceError(f"{deployment.name} is {deployment.get_status_display().lower()}; it cannot be applied.")
    current = deployment.full_params()
    basis = params_approve(
        environment=deployment.environment,
        bundle_version=deployment.bundle_version,
        params=current,
        exception=None,
        current=current,
    )
    return run_request(
        deployment=deployment,
        action=RunAction.APPLY,
        actor=actor,
        channel=channel,
        reason=reason,
        auto_apply=auto_apply,
        approval_basis=basis,
    )
