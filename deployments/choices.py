from django.db import models


class Tier(models.TextChoices):
    PROTOTYPE = "prototype", "Prototype"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class DeploymentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    DEPLOYING = "deploying", "Deploying"
    LIVE = "live", "Live"
    FAILED = "failed", "Failed"
    DESTROYING = "destroying", "Destroying"
    DESTROYED = "destroyed", "Destroyed"
    # In the vocabulary (and the query language) for drift detection; no run outcome sets it yet.
    DRIFTED = "drifted", "Drifted"


class RunAction(models.TextChoices):
    PLAN = "plan", "Plan"
    APPLY = "apply", "Apply"
    DESTROY = "destroy", "Destroy"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PLANNED = "planned", "Planned"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPLYING = "applying", "Applying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted"


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
