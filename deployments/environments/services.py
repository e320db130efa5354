"""Writes for environments as a unit: deploy, plan or tear down every deployment of an environment in the
order of its connection graph (:func:`environment_run_start`), and the step that advances it
(:func:`environment_run_drive`).

Each deployment's run is an ordinary run, made by the deployment services (``deployment_reapply``,
``deployment_plan``, ``deployment_destroy``) and so by ``run_create``: the same policy, the same gate,
the same audit trail as a run asked for on its own page. Nothing here waits: the record is advanced
when one of its runs finishes (``run_finished``) and, as a safety net, by beat.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.actor import actor_fields, actor_name
from portal.errors import Conflict, ParamsInvalid, ServiceError
from portal.events import record_event
from portal.querysets import CHANGE

from ..choices import DeploymentStatus, RunStatus
from ..models import Deployment, Environment, Run
from ..services import deployment_destroy, deployment_plan, deployment_reapply
from .graph import layers
from .models import EnvironmentRun, EnvironmentRunStep

log = logging.getLogger(__name__)

Action = EnvironmentRun.Action
Step = EnvironmentRunStep.Status

FAILED_RUN = (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED)
HELD_RUN = (RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL)
VERB = {Action.DEPLOY: "deploy", Action.PLAN: "plan", Action.TEARDOWN: "teardown"}


def revivable(environment: Environment) -> set:
    """Deployments its latest teardown destroyed and nothing brought back since: deploying the environment again
    creates them again. (A deployment destroyed on its own page stays destroyed.)"""
    teardown = EnvironmentRun.objects.filter(environment=environment, action=Action.TEARDOWN).order_by("-id").first()
    if teardown is None:
        return set()
    found = set()
    for step in teardown.steps.filter(status=Step.SUCCEEDED).select_related("deployment"):
        latest = step.deployment.runs.order_by("-created_at", "-id").values_list("pk", flat=True).first()
        if step.deployment.status == DeploymentStatus.DESTROYED and latest == step.run_id:
            found.add(step.deployment_id)
    return found


def members(environment: Environment, action: str) -> list[Deployment]:
    """The deployments an action covers: deploy and plan every one that exists (deploy also those the last
    teardown destroyed), teardown every one that may hold resources (not a draft, not destroyed)."""
    rows = Deployment.objects.filter(environment=environment).select_related("bundle_version__bundle")
    if action == Action.TEARDOWN:
        return list(rows.exclude(status__in=(DeploymentStatus.DESTROYED, DeploymentStatus.DRAFT)))
    if action == Action.DEPLOY:
        back = revivable(environment)
        return [d for d in rows if d.status != DeploymentStatus.DESTROYED or d.pk in back]
    return list(rows.exclude(status=DeploymentStatus.DESTROYED))


@transaction.atomic
def environment_run_start(
    *, environment: Environment, action: str, actor, channel: str = "ui", reason: str = "", confirm: str | None = None
) -> EnvironmentRun:
    """Deploy, plan or tear down ``environment``: record the levels and start the first one.

    Teardown needs ``confirm`` to be the environment's slug. Refused while another environment-wide
    action is under way there, or while one of its deployments is being destroyed.
    """
    if action not in Action.values:
        raise ServiceError(f"Unknown action {action!r}: one of {', '.join(Action.values)}.", field="action")
    if action == Action.TEARDOWN and confirm != environment.slug:
        raise ServiceError(f"Type the environment's name, {environment.slug}, to confirm.", field="confirm")
    Environment.objects.select_for_update().filter(pk=environment.pk).first()
    active = EnvironmentRun.objects.filter(environment=environment, status__in=EnvironmentRun.ACTIVE).first()
    if active is not None:
        doing = {Action.DEPLOY: "deployed", Action.PLAN: "planned", Action.TEARDOWN: "torn down"}[active.action]
        raise Conflict(f"{environment} is already being {doing} (#{active.pk}); wait for it to finish.")
    busy = Deployment.objects.filter(environment=environment, status=DeploymentStatus.DESTROYING).order_by("name")
    if busy.exists():
        names = ", ".join(busy.values_list("name", flat=True))
        raise Conflict(f"{names} {'is' if busy.count() == 1 else 'are'} being destroyed; wait for it, then try again.")
    included = members(environment, action)
    if not included:
        what = "to tear down" if action == Action.TEARDOWN else "to deploy" if action == Action.DEPLOY else "to plan"
        raise ServiceError(f"{environment} has no deployment {what}.")
    ordered = layers(included)
    if action == Action.TEARDOWN:
        ordered.reverse()  # consumers first: a producer is destroyed once nothing uses it
    try:
        with transaction.atomic():
            env_run = EnvironmentRun.objects.create(
                environment=environment,
                action=action,
                levels=len(ordered),
                channel=channel,
                reason=reason,
                **actor_fields(actor),
            )
    except IntegrityError as exc:  # another request started one in between
        raise Conflict(f"An environment-wide action on {environment} has just started; wait for it.") from exc
    EnvironmentRunStep.objects.bulk_create(
        EnvironmentRunStep(environment_run=env_run, deployment=d, level=index)
        for index, layer in enumerate(ordered)
        for d in layer
    )
    record_event(
        event_type=f"environment.{VERB[action]}_requested",
        actor=actor,
        target=environment,
        channel=channel,
        data={
            "environment_run": env_run.pk,
            "reason": reason,
            "levels": [[d.name for d in layer] for layer in ordered],
        },
    )
    _advance(env_run, actor=actor)
    return env_run


@transaction.atomic
def environment_run_cancel(*, env_run: EnvironmentRun, actor, channel: str = "ui") -> EnvironmentRun:
    """Stop after the level under way: no further level starts. Runs already started go on (cancel them on
    their own pages if need be)."""
    env_run = EnvironmentRun.objects.select_for_update().get(pk=env_run.pk)
    if not env_run.is_active:
        raise Conflict(f"#{env_run.pk} has already finished ({env_run.get_status_display().lower()}).")
    skipped = env_run.steps.filter(status=Step.WAITING).update(status=Step.NOT_STARTED)
    env_run.status = EnvironmentRun.Status.CANCELLED
    env_run.finished_at = timezone.now()
    plural = "" if skipped == 1 else "s"
    env_run.message = f"Cancelled by {actor_name(actor)}; {skipped} deployment{plural} not started."
    env_run.save()
    record_event(
        event_type=f"environment.{VERB[env_run.action]}_cancelled",
        actor=actor,
        target=env_run.environment,
        channel=channel,
        data={"environment_run": env_run.pk, "not_started": skipped},
    )
    return env_run


def environment_run_drive(env_run_id: int) -> bool:
    """Advance one environment run as far as its runs allow; True while it is still active. Idempotent."""
    with transaction.atomic():
        env_run = EnvironmentRun.objects.select_for_update().filter(pk=env_run_id).first()
        if env_run is None or not env_run.is_active:
            return False
        _advance(env_run, actor=env_run.requested_by)
        return env_run.is_active


def _advance(env_run: EnvironmentRun, *, actor) -> None:
    """Settle the level under way from its runs; start the next level once it succeeded; end on a failure."""
    while env_run.is_active:
        if env_run.level >= 0:
            steps = list(env_run.steps.filter(level=env_run.level).select_related("deployment", "run"))
            for step in steps:
                _settle(step)
            pending = [s for s in steps if s.status in (Step.RUNNING, Step.HELD)]
            failed = [s for s in steps if s.status == Step.FAILED]
            if pending:
                env_run.message = _level_message(env_run, steps, pending, failed)
                break
            if failed:
                _fail(env_run, failed)
                break
        if env_run.level + 1 >= env_run.levels:
            _succeed(env_run)
            break
        lost = _requester_lost_access(env_run)
        if lost:
            _stop(env_run, lost)
            break
        env_run.level += 1
        _start_level(env_run, actor=actor)
    env_run.driven_at = timezone.now()
    env_run.save()


def _settle(step: EnvironmentRunStep) -> None:
    if step.status not in (Step.RUNNING, Step.HELD) or step.run is None:
        return
    step.run.refresh_from_db(fields=["status", "error"])
    run = step.run
    if run.status == RunStatus.SUCCEEDED:
        new, error = Step.SUCCEEDED, ""
    elif run.status in FAILED_RUN:
        new = Step.FAILED
        error = (run.error or "").strip() or f"run #{run.pk} was {run.get_status_display().lower()}."
    elif run.status in HELD_RUN:
        new, error = Step.HELD, ""
    else:
        new, error = Step.RUNNING, ""
    if (new, error) != (step.status, step.error):
        step.status, step.error = new, error[:4000]
        step.save(update_fields=["status", "error"])


def _requester_lost_access(env_run: EnvironmentRun) -> str:
    """Why the person who asked for the environment run may no longer act for it ("" while they may): the runs
    of each level are theirs, so access is checked again as each level starts, not only at the door."""
    user = env_run.requested_by
    if user is None:
        if env_run.requested_by_name in ("", "system"):
            return ""  # asked for by the system itself (a task, a shell): nobody's access to lose
        return f"{env_run.requested_by_name}'s account was deleted"
    if not user.is_active:
        return f"{user.get_username()}'s account was deactivated"
    if not Environment.objects.actionable_by(user, CHANGE).filter(pk=env_run.environment_id).exists():
        return f"{user.get_username()} may no longer change {env_run.environment}"
    return ""


def _stop(env_run: EnvironmentRun, why: str) -> None:
    """End the environment run before its next level: the requester lost access to the environment."""
    skipped = env_run.steps.filter(level__gt=env_run.level).update(status=Step.NOT_STARTED)
    env_run.status = EnvironmentRun.Status.FAILED
    env_run.finished_at = timezone.now()
    env_run.error = f"Stopped: {why}, so the runs asked for in their name stop here."
    env_run.message = (
        f"Stopped before level {env_run.level + 2} of {env_run.levels}: {why}; {skipped} "
        f"deployment{'' if skipped == 1 else 's'} not started. Someone who may change {env_run.environment} can "
        "start it again."
    )
    _finished_event(env_run, stopped=why, not_started=skipped)


def _start_level(env_run: EnvironmentRun, *, actor) -> None:
    """Queue a run of every deployment of the level; a deployment refused now fails its step at once."""
    reason = f"{env_run.get_action_display().lower()} of {env_run.environment} (#{env_run.pk})"
    if env_run.reason:
        reason += f": {env_run.reason}"
    steps = env_run.steps.filter(level=env_run.level).select_related("deployment__bundle_version__bundle")
    for step in steps:
        deployment = step.deployment
        said = {"deployment": deployment, "actor": actor, "channel": env_run.channel, "reason": reason}
        try:
            with transaction.atomic():
                if env_run.action == Action.DEPLOY:
                    step.run = deployment_reapply(**said, revive=True)
                elif env_run.action == Action.PLAN:
                    step.run = deployment_plan(**said)
                else:
                    step.run = deployment_destroy(**said)
                step.status = Step.RUNNING
        except ParamsInvalid as exc:
            where = "; ".join(f"{p or '(params)'}: {' '.join(m)}" for p, m in exc.errors.items())
            step.status, step.error = Step.FAILED, f"{exc.message} {where}".strip()
        except (ServiceError, PermissionDenied) as exc:
            step.status, step.error = Step.FAILED, str(getattr(exc, "message", exc))
        step.save(update_fields=["run", "status", "error"])
    count = len(steps)
    env_run.message = (
        f"Level {env_run.level + 1} of {env_run.levels} started: {count} deployment{'' if count == 1 else 's'}."
    )


def _level_message(env_run, steps, pending, failed) -> str:
    done = sum(1 for s in steps if s.status == Step.SUCCEEDED)
    held = [s.deployment.name for s in pending if s.status == Step.HELD]
    said = f"Level {env_run.level + 1} of {env_run.levels}: {done} of {len(steps)} done"
    if held:
        said += f"; {', '.join(held)} {'waits' if len(held) == 1 else 'wait'} for a person (review or approval)"
    if failed:
        said += f"; {', '.join(s.deployment.name for s in failed)} failed, so no further level will start"
    return said + "."


def _fail(env_run: EnvironmentRun, failed: list[EnvironmentRunStep]) -> None:
    skipped = env_run.steps.filter(level__gt=env_run.level).update(status=Step.NOT_STARTED)
    env_run.status = EnvironmentRun.Status.FAILED
    env_run.finished_at = timezone.now()
    env_run.error = "\n".join(f"{s.deployment.name} failed: {s.error}" for s in failed)[:20000]
    names = ", ".join(s.deployment.name for s in failed)
    env_run.message = f"Stopped at level {env_run.level + 1} of {env_run.levels}: {names} failed" + (
        f"; {skipped} deployment{'' if skipped == 1 else 's'} in the levels after it not started." if skipped else "."
    )
    _finished_event(env_run, failed=[s.deployment.name for s in failed], not_started=skipped)


def _succeed(env_run: EnvironmentRun) -> None:
    env_run.status = EnvironmentRun.Status.SUCCEEDED
    env_run.finished_at = timezone.now()
    count = env_run.steps.count()
    done = {Action.DEPLOY: "deployed", Action.PLAN: "planned", Action.TEARDOWN: "destroyed"}[env_run.action]
    env_run.message = (
        f"All {count} deployment{'' if count == 1 else 's'} {done}, in {env_run.levels} "
        f"level{'' if env_run.levels == 1 else 's'}."
    )
    _finished_event(env_run)


def _finished_event(env_run: EnvironmentRun, **data) -> None:
    outcome = "succeeded" if env_run.status == EnvironmentRun.Status.SUCCEEDED else "failed"
    record_event(
        event_type=f"environment.{VERB[env_run.action]}_{outcome}",
        actor=None,
        target=env_run.environment,
        channel="system",
        data={"environment_run": env_run.pk, "message": env_run.message, **data},
    )


def env_runs_for(run: Run):
    """The active environment runs that wait for ``run``."""
    return EnvironmentRun.objects.filter(status__in=EnvironmentRun.ACTIVE, steps__run=run).values_list("pk", flat=True)
