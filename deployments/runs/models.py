"""Runs of the engine, their log lines, and the engine's state (versions and lock) kept by Slipway."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.querysets import TeamScopedQuerySet

from ..choices import RUN_ACTIVE, RUN_EXECUTING, RUN_TERMINAL, RUN_TRANSITIONS, LogStream, RunAction, RunStatus


class AppendOnly(Exception):
    """A write that would change evidence (a run's approval basis, a log line) or delete it."""


class RunQuerySet(TeamScopedQuerySet):
    """Runs are evidence: never deleted, and their approval basis only ever grows (an approval is appended
    to the policy's basis). PostgreSQL enforces the same with a trigger (migration 0008); here the model
    refuses it on every database, including SQLite."""

    team_path = "deployment__environment__project__team"

    def update(self, **kwargs):
        if "approval_basis" in kwargs:
            new = kwargs["approval_basis"]
            for old in self.values_list("approval_basis", flat=True):
                if not _extends(old, new):
                    raise AppendOnly(f"A run's approval basis can only be added to, not changed: {old!r}.")
        return super().update(**kwargs)

    def delete(self):
        raise AppendOnly("Runs are evidence and are never deleted.")


def _extends(old: str, new) -> bool:
    return not old or (isinstance(new, str) and new.startswith(old))


class Run(models.Model):
    """One execution of the engine for a deployment.

    Not history-tracked, and never deleted: a run is the record of what was asked and what the engine
    did. Its row does change while the run lives, but only through :meth:`transition` (a guarded,
    conditional update along ``RUN_TRANSITIONS``) and the runner's progress fields (heartbeat,
    plan summary, resources done); the params snapshot, action, requester and reason never change.
    """

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.PROTECT, related_name="runs")
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
    upstream = models.JSONField(
        default=dict,
        blank=True,
        help_text="The artifact version of each connection the run used: {name: {deployment, artifact, serial}}.",
    )
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

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment"],
                condition=models.Q(status__in=RUN_EXECUTING),
                name="run_one_executing_per_deployment",
            ),
        ]
        indexes = [
            models.Index(fields=["deployment", "status"], name="run_deployment_status"),
            # A deployment's newest run (lists show it per row) and its runs page, newest first.
            models.Index(fields=["deployment", "-created_at", "-id"], name="run_deployment_newest"),
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} {self.action} of {self.deployment_id} ({self.status})"

    def save(self, *args, **kwargs):
        if not self._state.adding and self.pk is not None:
            old = Run.objects.filter(pk=self.pk).values_list("approval_basis", flat=True).first()
            if old is not None and not _extends(old, self.approval_basis):
                raise AppendOnly(f"A run's approval basis can only be added to, not changed: {old!r}.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("deployments:run", args=[self.pk])

    def delete(self, *args, **kwargs):
        raise AppendOnly("Runs are evidence and are never deleted.")

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


class RunLogLineQuerySet(models.QuerySet):
    """Log lines are evidence: never deleted, and only their text may change, and only while their run
    executes (secrets first known after apply are masked in lines already stored). PostgreSQL enforces
    the same with a trigger (migration 0008)."""

    def update(self, **kwargs):
        if set(kwargs) - {"text", "event"}:
            raise AppendOnly("Run log lines are append-only: only their text may be masked while the run executes.")
        if self.exclude(run__status__in=RUN_EXECUTING).exists():
            raise AppendOnly("Run log lines of a run that is over are append-only.")
        return super().update(**kwargs)

    def delete(self):
        raise AppendOnly("Run log lines are append-only and are never deleted.")


class RunLogLine(models.Model):
    """One line of engine output, ordered by ``seq`` within its run. Append-only (see the queryset)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines")
    seq = models.PositiveIntegerField()
    stream = models.CharField(max_length=10, choices=LogStream.choices, default=LogStream.STDOUT)
    level = models.CharField(max_length=10, default="info")
    text = models.TextField()
    event = models.JSONField(null=True, blank=True, help_text="The engine's -json message, redacted.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = RunLogLineQuerySet.as_manager()

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="runlogline_unique_seq")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.seq} {self.text[:60]}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("Run log lines are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Run log lines are append-only and are never deleted.")


class StateLock(models.Model):
    """The engine's state lock for one deployment, held through the HTTP backend's LOCK/UNLOCK."""

    deployment = models.OneToOneField("deployments.Deployment", on_delete=models.CASCADE, related_name="state_lock")
    lock_id = models.CharField(max_length=100)
    info = models.JSONField(default=dict, help_text="What the engine sent: who, operation, version, created.")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"lock {self.lock_id} on {self.deployment_id}"


class StateVersion(models.Model):
    """One version of a deployment's engine state, encrypted at rest."""

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.PROTECT, related_name="state_versions")
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


class Worker(models.Model):
    """A Celery worker that has started, by its node name (``name@host``); its main process updates
    ``seen_at`` while it lives, so pages can say plainly when no worker is alive."""

    name = models.CharField(max_length=200, unique=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.name
