"""Writes for policy decisions: exception requests (asked, approved, rejected) and held plans
(approved, rejected). Every decision is ops-only, recorded, and told to the person who asked."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from bundles.models import BundleVersion
from portal.actor import actor_fields, actor_name
from portal.errors import Conflict, ServiceError
from portal.events import record_event
from portal.roles import require_ops

from .. import notifications, secrets
from ..choices import DeploymentStatus, RunStatus
from ..connections.services import connections_resolve
from ..models import Deployment, Environment, ExceptionRequest, Run
from ..runs.services import run_for_update
from ..runs.status import settle_deployment
from ..runs.tasks import run_enqueue, run_enqueue_next
from ..services import (
    deployment_create,
    deployment_update,
    immutable_errors,
    known_secrets,
    name_check,
    params_validate,
)
from .rules import check_params
from .selectors import exception_notices, exceptions_expiring_soon


def _decision(*, actor, comment: str, rejecting: bool, what: str, field: str | None = None) -> str:
    """The checks every decision makes: ops only, and a rejection says why. Returns the decider's name."""
    require_ops(actor, "Only platform ops can decide this.")
    if rejecting and not comment.strip():
        raise ServiceError(f"Say why the {what} is rejected: the requester reads it.", field=field)
    return actor_name(actor)


def _announce(*, event: str, actor, target, channel: str, data: dict, requester, subject: str, body: str, path: str):
    """Record a decision and tell the requester."""
    record_event(event_type=event, actor=actor, target=target, channel=channel, data=data)
    notifications.tell(user=requester, subject=subject, body=body, path=path, event=event)


# --- Held plans --------------------------------------------------------------------------------


@transaction.atomic
def run_approve(*, run: Run, actor, comment: str = "", channel: str = "ui") -> Run:
    """Ops approve a plan the policy held back: the worker applies exactly that plan."""
    return _decide_run(run, actor=actor, comment=comment, channel=channel, approve=True)


@transaction.atomic
def run_reject(*, run: Run, actor, comment: str, channel: str = "ui") -> Run:
    """Ops reject a held plan: it never applies, and the requester sees why."""
    return _decide_run(run, actor=actor, comment=comment, channel=channel, approve=False)


def _decide_run(run: Run, *, actor, comment: str, channel: str, approve: bool) -> Run:
    name = _decision(actor=actor, comment=comment, rejecting=not approve, what="plan")
    run = run_for_update(run, expected=(RunStatus.AWAITING_APPROVAL,), doing="awaiting approval")
    if approve:
        basis = f"{run.approval_basis}; plan approved by {name}" + (f": {comment}" if comment else "")
        run.transition(RunStatus.QUEUED, apply_confirmed_by=name, approval_basis=basis[:255], enqueued_at=None)
        said = f"{name} approved the plan of run #{run.pk}. {comment}".strip()
        transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    else:
        run.transition(RunStatus.CANCELLED, error=f"Rejected by {name}: {comment}", plan_file=None)
        settle_deployment(run)
        said = f"{name} rejected the plan of run #{run.pk}: {comment}"
        transaction.on_commit(lambda: run_enqueue_next(deployment_id=run.deployment_id))
    verb = "approved" if approve else "rejected"
    _announce(
        event=f"run.{verb}",
        actor=actor,
        target=run.deployment,
        channel=channel,
        data={"run": run.pk, "comment": comment},
        requester=run.requested_by,
        subject=f"Run #{run.pk} of {run.deployment} {verb}",
        body=said,
        path=run.get_absolute_url(),
    )
    return run


# --- Exceptions --------------------------------------------------------------------------------


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
    connections: dict | None = None,
    bundle_version_moves: bool = False,
) -> ExceptionRequest:
    """Ask ops to allow params the bundle accepts but the environment's policy does not.

    ``connections`` (``{name: producer id or name}``, as a change names them; names left out keep theirs) are the
    connections the change asks for: checked now as a change's are, stored resolved, and made with it when it is
    approved; ``bundle_version_moves`` says that approving it also moves the deployment to ``bundle_version``
    (a promotion from an environment that runs another version)."""
    if not reason.strip():
        raise ServiceError("Say why you need an exception: ops decide on your reason.", field="reason")
    held = (lambda: known_secrets(deployment)) if deployment is not None else (lambda: ())
    params = secrets.unmask(bundle_version.params_schema, params, held)
    params_validate(bundle_version=bundle_version, params=params)
    if deployment is not None:
        immutable_errors(deployment=deployment, params=params, raise_them=True)
    else:
        name_check(environment=environment, name=name)
    if connections is not None:
        connections = connections_resolve(
            environment=environment, bundle_version=bundle_version, requested=connections, deployment=deployment
        )
    check = check_params(environment=environment, bundle_version=bundle_version, params=params, deployment=deployment)
    if check.ok:
        raise ServiceError("These params are within the policy: no exception is needed, just submit them.")
    asked = bundle_version.monthly_estimate(params)
    now = (
        deployment.monthly_cost
        if deployment is not None and deployment.cost_currency == (asked and asked.currency)
        else None
    )
    request = ExceptionRequest.objects.create(
        monthly_cost=asked.amount if asked else None,
        monthly_cost_before=now,
        cost_currency=asked.currency if asked else "",
        environment=environment,
        bundle_version=bundle_version,
        deployment=deployment,
        name=name,
        connections=connections or {},
        moves_version=bundle_version_moves and deployment is not None,
        violations=check.errors,
        fields=check.fields,
        policy_version=check.policy.version,
        reason=reason,
        **secrets.stored(bundle_version.params_schema, params),
        **actor_fields(actor),
    )
    record_event(
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


def _pending(request: ExceptionRequest) -> ExceptionRequest:
    request = ExceptionRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != ExceptionRequest.Status.PENDING:
        raise Conflict(f"Exception #{request.pk} is already {request.get_status_display().lower()}.")
    return request


def _decide(request: ExceptionRequest, *, status: str, name: str, comment: str) -> None:
    request.status = status
    request.decided_by_name = name
    request.decision_comment = comment
    request.decided_at = timezone.now()
    request.save()


@transaction.atomic
def exception_approve(
    *, request: ExceptionRequest, actor, comment: str = "", channel: str = "ui", expires_at=None
) -> Run:
    """Approve an exception: the change it asked for is made and its run proceeds. With ``expires_at``
    the approval is for a while: after it the values are out of policy again (the owner is told before,
    by ``exceptions_warn_expiring``)."""
    name = _decision(actor=actor, comment=comment, rejecting=False, what="exception")
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("An exception cannot expire before it is approved.", field="expires_at")
    request = _pending(request)
    request.expires_at = expires_at
    _decide(request, status=ExceptionRequest.Status.APPROVED, name=name, comment=comment)
    params = secrets.merge(request.params, request.sensitive_params)
    why = f"exception #{request.pk}: {request.reason}"
    change = {"params": params, "actor": request.requested_by or actor, "channel": channel, "reason": why}
    if request.connections:
        change["connections"] = request.connections
    if request.deployment is None:
        deployment = deployment_create(
            environment=request.environment,
            name=request.name,
            bundle_version=request.bundle_version,
            exception=request,
            **change,
        )
        run = deployment.runs.order_by("-created_at", "-id").first()
    else:
        if request.moves_version:
            change["bundle_version"] = request.bundle_version
        run = deployment_update(deployment=request.deployment, exception=request, **change)
    request.run = run
    request.save(update_fields=["run"])
    _announce(
        event="exception.approved",
        actor=actor,
        target=run.deployment,
        channel=channel,
        data={
            "exception": request.pk,
            "comment": comment,
            "run": run.pk,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
        requester=request.requested_by,
        subject=f"Exception #{request.pk} approved",
        body=(
            f"{name} approved your exception for {request.environment}/{request.name}"
            + (f" until {_when(expires_at)}" if expires_at else "")
            + f". {comment}"
        ).strip(),
        path=run.get_absolute_url(),
    )
    return run


@transaction.atomic
def exception_reject(*, request: ExceptionRequest, actor, comment: str, channel: str = "ui") -> ExceptionRequest:
    """Reject an exception: nothing runs, and the requester sees why."""
    name = _decision(actor=actor, comment=comment, rejecting=True, what="exception", field="comment")
    request = _pending(request)
    _decide(request, status=ExceptionRequest.Status.REJECTED, name=name, comment=comment)
    _announce(
        event="exception.rejected",
        actor=actor,
        target=request.deployment or request.environment,
        channel=channel,
        data={"exception": request.pk, "comment": comment},
        requester=request.requested_by,
        subject=f"Exception #{request.pk} rejected",
        body=f"{name} rejected your exception for {request.environment}/{request.name}: {comment}",
        path=request.get_absolute_url(),
    )
    return request


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def exceptions_warn_expiring(now=None) -> int:
    """Tell the owner of each time-limited exception that expires soon, once, while its deployment still
    holds the values outside the policy. Returns how many were told."""
    told = 0
    for exception in exceptions_expiring_soon(now):
        with transaction.atomic():
            locked = ExceptionRequest.objects.select_for_update().get(pk=exception.pk)
            if locked.expiry_warned_at is not None:
                continue
            locked.expiry_warned_at = timezone.now()
            locked.save(update_fields=["expiry_warned_at"])
            deployment = exception.deployment or (exception.run.deployment if exception.run else None)
            if deployment is None or deployment.status == DeploymentStatus.DESTROYED:
                continue
            fields = [
                f for n in exception_notices(deployment) if n["exception"].pk == exception.pk for f in n["fields"]
            ]
            if not fields:
                continue  # its values were changed since: nothing will fall out of policy
            body = (
                f"Exception #{exception.pk} for {deployment.environment}/{deployment.name} expires on "
                f"{_when(exception.expires_at)}. After that {', '.join(fields)} will be outside the environment's "
                "policy again: its next change or re-apply is refused until they are back in policy or a new "
                "exception is approved."
            )
            data = {"exception": exception.pk, "fields": fields, "expires_at": exception.expires_at.isoformat()}
            record_event(event_type="exception.expiring", target=deployment, channel="system", data=data)
            notifications.tell(
                user=exception.requested_by,
                subject=f"Exception #{exception.pk} expires on {_when(exception.expires_at)}",
                body=body,
                path=deployment.get_absolute_url(),
                event="exception.expiring",
            )
            told += 1
    return told
