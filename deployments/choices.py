"""The vocabularies of deployments and runs. A label the name already says ("Live" for LIVE) is left to
Django, which derives it from the name; only the others are written out."""

from django.db import models


class Tier(models.TextChoices):
    PROTOTYPE = "prototype"
    STAGING = "staging"
    PRODUCTION = "production"


class DeploymentStatus(models.TextChoices):
    DRAFT = "draft"
    DEPLOYING = "deploying"
    LIVE = "live"
    FAILED = "failed"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    # Set by a drift check that finds the cloud changed behind Slipway's back (deployments.drift); cleared
    # by a check in sync or a successful apply.
    DRIFTED = "drifted"


class RunAction(models.TextChoices):
    PLAN = "plan"
    APPLY = "apply"
    DESTROY = "destroy"


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    PLANNED = "planned"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPLYING = "applying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


# A worker holds the deployment while the engine runs: at most one such run per deployment.
RUN_EXECUTING = (RunStatus.RUNNING, RunStatus.APPLYING)
RUN_TERMINAL = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED)
RUN_ACTIVE = tuple(s for s in RunStatus if s not in RUN_TERMINAL)
# The engine has stopped and the run rests until a person confirms or approves it.
RUN_WAITING = (RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL)

# Legal moves of the run state machine.
RUN_TRANSITIONS: dict[str, set[str]] = {
    RunStatus.QUEUED: {RunStatus.RUNNING, RunStatus.CANCELLED},
    RunStatus.RUNNING: {
        RunStatus.PLANNED,
        RunStatus.AWAITING_APPROVAL,
        RunStatus.APPLYING,
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.INTERRUPTED,
    },
    RunStatus.PLANNED: {RunStatus.QUEUED, RunStatus.CANCELLED},
    RunStatus.AWAITING_APPROVAL: {RunStatus.QUEUED, RunStatus.CANCELLED},
    RunStatus.APPLYING: {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED},
    RunStatus.SUCCEEDED: set(),
    RunStatus.FAILED: set(),
    RunStatus.CANCELLED: set(),
    RunStatus.INTERRUPTED: set(),
}


class LogStream(models.TextChoices):
    STDOUT = "stdout", "stdout"
    STDERR = "stderr", "stderr"
    SYSTEM = "system", "Slipway"
