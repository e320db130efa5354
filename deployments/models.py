"""Projects, environments, deployments and their runs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .choices import (
    RUN_ACTIVE,
    RUN_EXECUTING,
    RUN_TERMINAL,
    RUN_TRANSITIONS,
    DeploymentStatus,
    LogStream,
    RunAction,
    RunStatus,
    Tier,
)


class Project(models.Model):
    """A product area owned by one team, e.g. ``checkout``."""

    team = models.ForeignKey("portal.Team", on_delete=models.PROTECT, related_name="projects")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Environment(models.Model):
    """Where a project's deployments live; its tier decides what policy applies."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="environments")
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.PROTOTYPE)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["project__slug", "slug"]
        constraints = [models.UniqueConstraint(fields=["project", "slug"], name="environment_unique_slug")]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.slug}"


class Deployment(models.Model):
    """One bundle instance in one environment: its pinned version plus its params."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="deployments")
    name = models.SlugField(max_length=60, help_text="Unique within the environment.")
    bundle_version = models.ForeignKey("bundles.BundleVersion", on_delete=models.PROTECT, related_name="deployments")
    params = models.JSONField(default=dict, blank=True, help_text="The desired configuration.")
    outputs = models.JSONField(default=dict, blank=True, help_text="Non-sensitive outputs of the last apply.")
    sensitive_outputs = models.BinaryField(null=True, blank=True, editable=False, help_text="Encrypted JSON.")
    sensitive_params = models.BinaryField(
        null=True, blank=True, editable=False, help_text="Encrypted JSON of the x-sensitive params; params hold a mask."
    )
    status = models.CharField(max_length=20, choices=DeploymentStatus.choices, default=DeploymentStatus.DRAFT)
    version = models.PositiveIntegerField(default=1, help_text="Optimistic-lock counter, bumped on every change.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["sensitive_outputs", "sensitive_params", "updated_at"])

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["environment", "name"], name="deployment_unique_name")]

    def __str__(self) -> str:
        return f"{self.environment}/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("deployments:detail", args=[self.pk])

    @property
    def project(self) -> Project:
        return self.environment.project

    @property
    def bundle(self):
        return self.bundle_version.bundle

    def full_params(self) -> dict:
        """Params with sensitive values decrypted: only for the runner and for re-validation."""
        from .secrets import merge

        return merge(self.params, self.sensitive_params)

    @property
    def name_prefix(self) -> str:
        return f"{self.environment.project.slug}-{self.environment.slug}-{self.name}"[:63]


class Run(models.Model):
    """One execution of the engine for a deployment. Append-only: not history-tracked."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="runs")
    action = models.CharField(max_length=10, choices=RunAction.choices)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    bundle_version = models.ForeignKey("bundles.BundleVersion", on_delete=models.PROTECT, related_name="runs")
    params = models.JSONField(default=dict, help_text="Snapshot of the params the run uses (sensitive ones masked).")
    sensitive_params = models.BinaryField(null=True, blank=True, editable=False, help_text="Encrypted JSON.")
    auto_apply = models.BooleanField(
        default=True, help_text="Apply right after the plan when it replaces or destroys nothing."
    )
    apply_confirmed_by = models.CharField(max_length=150, blank=True, help_text="Who confirmed the reviewed plan.")
    plan_file = models.BinaryField(null=True, blank=True, editable=False, help_text="Encrypted saved plan.")
    plan_json = models.JSONField(null=True, blank=True, help_text="The engine's plan, sensitive values redacted.")
    state_credential = models.CharField(
        max_length=64, blank=True, editable=False, help_text="SHA-256 of the run's state-backend password."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=20, default="ui")
    reason = models.TextField(blank=True, help_text="Why the change was requested.")
    approval_basis = models.CharField(max_length=255, blank=True)
    plan_summary = models.JSONField(default=dict, blank=True)
    resources_planned = models.PositiveIntegerField(default=0)
    resources_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last time the task was sent to the broker.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment"],
                condition=models.Q(status__in=RUN_EXECUTING),
                name="run_one_executing_per_deployment",
            ),
        ]
        indexes = [models.Index(fields=["deployment", "status"], name="run_deployment_status")]

    def __str__(self) -> str:
        return f"run #{self.pk} {self.action} of {self.deployment_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("deployments:run", args=[self.pk])

    @property
    def is_terminal(self) -> bool:
        return self.status in RUN_TERMINAL

    @property
    def is_active(self) -> bool:
        return self.status in RUN_ACTIVE

    @property
    def duration(self):
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def progress_percent(self) -> int:
        if self.status == RunStatus.SUCCEEDED:
            return 100
        if not self.resources_planned:
            return 0
        return min(100, round(100 * self.resources_done / self.resources_planned))

    def check_transition(self, new_status: str) -> None:
        if new_status not in RUN_TRANSITIONS[self.status]:
            raise ValidationError(f"A {self.get_status_display().lower()} run cannot become {new_status}.")

    def transition(self, new_status: str, **fields) -> bool:
        """Move to ``new_status`` only if the row is still in the status we read; True when it moved.

        The conditional UPDATE makes the move safe against a concurrent worker or reaper.
        """
        self.check_transition(new_status)
        now = timezone.now()
        if new_status in RUN_TERMINAL:
            fields.setdefault("finished_at", now)
        if new_status == RunStatus.RUNNING:
            fields.setdefault("started_at", now)
            fields.setdefault("heartbeat_at", now)
        moved = Run.objects.filter(pk=self.pk, status=self.status).update(status=new_status, **fields)
        if moved:
            self.status = new_status
            for key, value in fields.items():
                setattr(self, key, value)
        return bool(moved)


class RunLogLine(models.Model):
    """One line of engine output, ordered by ``seq`` within its run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines")
    seq = models.PositiveIntegerField()
    stream = models.CharField(max_length=10, choices=LogStream.choices, default=LogStream.STDOUT)
    level = models.CharField(max_length=10, default="info")
    text = models.TextField()
    event = models.JSONField(null=True, blank=True, help_text="The engine's -json message, redacted.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="runlogline_unique_seq")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.seq} {self.text[:60]}"


class StateLock(models.Model):
    """The engine's state lock for one deployment, held through the HTTP backend's LOCK/UNLOCK."""

    deployment = models.OneToOneField(Deployment, on_delete=models.CASCADE, related_name="state_lock")
    lock_id = models.CharField(max_length=100)
    info = models.JSONField(default=dict, help_text="What the engine sent: who, operation, version, created.")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"lock {self.lock_id} on {self.deployment_id}"


class StateVersion(models.Model):
    """One version of a deployment's engine state, encrypted at rest."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="state_versions")
    serial = models.PositiveIntegerField()
    lineage = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64)
    encrypted_state = models.BinaryField()
    created_by_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deployment", "-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"state {self.serial} of {self.deployment_id}"


def default_gated_actions(tier: str) -> list[str]:
    """Plan actions that need a person, by tier: replace and destroy in production, none elsewhere."""
    return ["replace", "destroy"] if tier == Tier.PRODUCTION else []


class Policy(models.Model):
    """An environment's policy: which bundles it allows, how it narrows their schemas, and which plan
    actions need a person. Saving bumps ``version``; every version is kept in history."""

    GATEABLE = ("add", "change", "replace", "destroy")

    environment = models.OneToOneField(Environment, on_delete=models.CASCADE, related_name="policy")
    allowed_bundles = models.JSONField(
        default=list, blank=True, help_text="Bundle names allowed here. Empty allows every bundle."
    )
    overlays = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per bundle, a JSON Schema fragment the params must also satisfy, e.g. {"postgres": '
        '{"properties": {"high_availability": {"const": true}}}}.',
    )
    gated_actions = models.JSONField(
        default=list,
        blank=True,
        help_text='Plan actions that wait for ops approval: any of "add", "change", "replace", "destroy".',
    )
    webhook_url = models.URLField(blank=True, help_text="Optional: notified of exception requests and approvals.")
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return f"policy of {self.environment} v{self.version}"

    def save(self, *args, **kwargs) -> None:
        if self.pk:
            self.version = Policy.objects.filter(pk=self.pk).values_list("version", flat=True).first() + 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from bundles.models import Bundle
        from bundles.schema import check_overlay_schema

        errors: dict[str, list[str]] = {}
        if not isinstance(self.allowed_bundles, list) or not all(isinstance(n, str) for n in self.allowed_bundles):
            errors["allowed_bundles"] = ["A list of bundle names."]
        else:
            unknown = set(self.allowed_bundles) - set(Bundle.objects.values_list("name", flat=True))
            if unknown:
                errors["allowed_bundles"] = [f"Unknown bundle(s): {', '.join(sorted(unknown))}."]
        if not isinstance(self.overlays, dict):
            errors["overlays"] = ["An object mapping bundle names to JSON Schema fragments."]
        else:
            problems = [f"{name}{p}" for name, frag in self.overlays.items() for p in check_overlay_schema(frag)]
            if problems:
                errors["overlays"] = problems
        if not isinstance(self.gated_actions, list) or set(self.gated_actions) - set(self.GATEABLE):
            errors["gated_actions"] = [f"A list of: {', '.join(self.GATEABLE)}."]
        if errors:
            raise ValidationError(errors)

    @property
    def label(self) -> str:
        return f"{self.environment}/v{self.version}"

    def allows_bundle(self, name: str) -> bool:
        return not self.allowed_bundles or name in self.allowed_bundles


class ExceptionRequest(models.Model):
    """A developer's request to deploy params that the bundle accepts but the environment's policy does not."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="exception_requests")
    bundle_version = models.ForeignKey("bundles.BundleVersion", on_delete=models.PROTECT, related_name="+")
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.PROTECT, related_name="exception_requests"
    )
    name = models.SlugField(max_length=60, help_text="The deployment's name.")
    params = models.JSONField(default=dict, blank=True)
    sensitive_params = models.BinaryField(null=True, blank=True, editable=False)
    violations = models.JSONField(default=dict, help_text="Policy errors by JSON pointer, as the developer saw them.")
    fields = models.JSONField(default=list, help_text="Top-level params outside the policy, for the backlog counts.")
    policy_version = models.PositiveIntegerField()
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    decided_by_name = models.CharField(max_length=150, blank=True)
    decision_comment = models.TextField(blank=True)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"exception #{self.pk} for {self.environment}/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("deployments:exception", args=[self.pk])


# --- The estate as a database (issue 7) -------------------------------------------------------


class StateResource(models.Model):
    """One resource instance of a deployment's latest state, with its non-sensitive attributes.

    Rewritten whenever the engine stores a new state, so ``resource.<type>.<attr>`` queries read a
    small indexed table instead of decrypting every state. Attributes the state marks sensitive are
    never stored here.
    """

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="state_resources")
    state_version = models.ForeignKey(StateVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    address = models.CharField(max_length=500)
    type = models.CharField(max_length=200)
    attributes = models.JSONField(default=dict)

    class Meta:
        ordering = ["deployment", "address"]
        indexes = [models.Index(fields=["type", "deployment"], name="stateresource_type_dep")]

    def __str__(self) -> str:
        return f"{self.address} of {self.deployment_id}"


class SavedQuery(models.Model):
    """An estate query someone saved under a name; shared ones are listed for everyone."""

    name = models.CharField(max_length=120)
    query = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queries")
    shared = models.BooleanField(default=False, help_text="Listed for everyone (each still sees only what they may).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "saved queries"
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedquery_unique_name")]

    def __str__(self) -> str:
        return self.name


class BulkChange(models.Model):
    """A change tested against every deployment a query selects, then rolled out in waves.

    The change sets or unsets param paths (``patch``), moves the targets to ``target_version``, or
    both. The database drives it: a Celery task reads the status, does the next step, and schedules
    itself again, so a worker restart only delays it.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        DRY_RUNNING = "dry_running", "Dry run in progress"
        TESTED = "tested", "Dry run done"
        ROLLING_OUT = "rolling_out", "Rolling out"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.DRY_RUNNING, Status.ROLLING_OUT)

    title = models.CharField(max_length=200)
    query = models.TextField(help_text="The estate query that selects the targets.")
    patch = models.JSONField(
        default=list,
        blank=True,
        help_text='Param changes: [{"op": "set", "path": "/a/b", "value": 1}, {"op": "unset", "path": "/c"}].',
    )
    target_version = models.ForeignKey(
        "bundles.BundleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    plan = models.BooleanField(default=False, help_text="Also plan every valid target during the dry run.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    wave_size = models.PositiveIntegerField(default=5)
    pause_seconds = models.PositiveIntegerField(default=0)
    failure_threshold = models.PositiveIntegerField(default=1, help_text="Stop once this many targets have failed.")
    include_risky = models.BooleanField(
        default=False, help_text="Also roll out targets whose plan replaces or destroys."
    )
    waves_started = models.PositiveIntegerField(default=0)
    next_wave_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, help_text="Why it stopped, or what it is doing.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    driven_at = models.DateTimeField(null=True, blank=True, help_text="Last time the driver task looked at it.")
    driver_token = models.CharField(
        max_length=32, blank=True, editable=False, help_text="Only the driver chain holding this token goes on."
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"bulk change #{self.pk}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("deployments:bulk", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class BulkTarget(models.Model):
    """One deployment a bulk change selected: its dry-run verdict, then its rollout."""

    class Verdict(models.TextChoices):
        PENDING = "pending", "Pending"
        PLANNING = "planning", "Planning"
        CLEAN = "clean", "Clean"
        INVALID = "invalid", "Invalid"
        RISKY = "risky", "Would replace or destroy"

    class Rollout(models.TextChoices):
        WAITING = "waiting", "Waiting"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        HELD = "held", "Waiting for review"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not rolled out"

    bulk_change = models.ForeignKey(BulkChange, on_delete=models.CASCADE, related_name="targets")
    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    from_version = models.ForeignKey("bundles.BundleVersion", on_delete=models.PROTECT, related_name="+")
    deployment_version = models.PositiveIntegerField(help_text="The deployment's version the dry run tested.")
    verdict = models.CharField(max_length=20, choices=Verdict.choices, default=Verdict.PENDING)
    errors = models.JSONField(default=dict, blank=True, help_text="Validation errors by JSON pointer.")
    resources = models.JSONField(default=list, blank=True, help_text="Resources the plan replaces or destroys.")
    plan_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rollout = models.CharField(max_length=20, choices=Rollout.choices, default=Rollout.WAITING)
    wave = models.PositiveIntegerField(null=True, blank=True)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["bulk_change", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bulk_change", "deployment"], name="bulktarget_unique_deployment")
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} in bulk change #{self.bulk_change_id}"
