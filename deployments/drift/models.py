"""A drift check: one refresh-only plan of one deployment and what it found."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.querysets import TeamScopedQuerySet

from ..runs.models import AppendOnly


class DriftStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    IN_SYNC = "in_sync", "In sync"
    DRIFTED = "drifted"
    ERROR = "error"
    SKIPPED = "skipped"


DRIFT_PENDING = (DriftStatus.QUEUED, DriftStatus.RUNNING)
DRIFT_FINISHED = (DriftStatus.IN_SYNC, DriftStatus.DRIFTED, DriftStatus.ERROR, DriftStatus.SKIPPED)


class Resolution(models.TextChoices):
    REVERTED = "reverted"
    ACCEPTED = "accepted"
    CLEARED = "cleared", "Cleared by a later check"
    SUPERSEDED = "superseded", "Superseded by a later check"


# What a check found: written while it is queued or running, never after. A resolution is written once.
RESULT_FIELDS = frozenset(
    {
        "status",
        "dispatched_at",
        "started_at",
        "finished_at",
        "state_version",
        "state_version_id",
        "state_serial",
        "resources",
        "observed",
        "drifted_attributes",
        "error",
        "log",
    }
)
RESOLUTION_FIELDS = frozenset(
    {
        "resolution",
        "resolved_by",
        "resolved_by_id",
        "resolved_by_name",
        "resolved_at",
        "resolution_reason",
        "resolution_run",
        "resolution_run_id",
    }
)


def _refusal(fields, status: str, resolution: str) -> str | None:
    """Why changing ``fields`` of a check with this status and resolution would rewrite evidence, or None."""
    fields = set(fields)
    if not fields <= RESULT_FIELDS | RESOLUTION_FIELDS:
        return f"A drift check's {', '.join(sorted(fields - RESULT_FIELDS - RESOLUTION_FIELDS))} never change."
    if fields & RESULT_FIELDS and status not in DRIFT_PENDING:
        return "A finished drift check's result is evidence: it is never rewritten."
    if fields & RESOLUTION_FIELDS and resolution:
        return "A drift check's resolution is written once and never rewritten."
    return None


class DriftCheckQuerySet(TeamScopedQuerySet):
    """Drift checks are evidence, like runs: never deleted; what a check found is written while it is queued
    or running and then frozen; its resolution (revert, accept, cleared, superseded) is written once.
    PostgreSQL enforces the same with a trigger (migration 0010); here the model refuses it on every database."""

    team_path = "deployment__environment__project__team"

    def update(self, **kwargs):
        for status, resolution in self.values_list("status", "resolution"):
            refused = _refusal(kwargs, status, resolution)
            if refused:
                raise AppendOnly(refused)
        return super().update(**kwargs)

    def delete(self):
        raise AppendOnly("Drift checks are evidence and are never deleted.")


class DriftCheck(models.Model):
    """One comparison of a deployment's stored state with what the cloud holds.

    Not a run and not history-tracked: an append-only record whose row changes only while the check
    lives (queued, running, a result) and when a person resolves the drift it found (revert, accept).
    ``resources`` lists each drifted resource with every attribute that differs (before in state, now in
    the cloud, secrets masked); ``observed`` is every resource as the refresh read it (non-sensitive
    attributes only), which the deployment page's *Live* view shows.
    """

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="drift_checks")
    status = models.CharField(max_length=10, choices=DriftStatus.choices, default=DriftStatus.QUEUED, db_index=True)
    channel = models.CharField(max_length=20, default="schedule", help_text="ui, api or schedule.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, blank=True)
    state_version = models.ForeignKey(
        "deployments.StateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state_serial = models.PositiveIntegerField(null=True, blank=True)
    resources = models.JSONField(default=list, blank=True, help_text="Drifted resources and their attribute diffs.")
    observed = models.JSONField(default=list, blank=True, help_text="Every resource as the refresh read it.")
    drifted_attributes = models.TextField(
        blank=True, help_text="' attr type.attr ...': what the estate query's drift.attribute matches."
    )
    error = models.TextField(blank=True)
    log = models.TextField(blank=True, help_text="The engine's output, secrets masked.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="Sent to a worker (the in-flight limit).")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=12, choices=Resolution.choices, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by_name = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.TextField(blank=True)
    resolution_run = models.ForeignKey(
        "deployments.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = DriftCheckQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["deployment", "-created_at"], name="driftcheck_latest")]

    def __str__(self) -> str:
        return f"drift check #{self.pk} of {self.deployment_id} ({self.status})"

    def save(self, *args, **kwargs):
        if not self._state.adding and self.pk is not None:
            old = DriftCheck.objects.filter(pk=self.pk).first()
            if old is not None:
                changed = [
                    f.attname for f in self._meta.concrete_fields if getattr(old, f.attname) != getattr(self, f.attname)
                ]
                refused = _refusal(changed, old.status, old.resolution)
                if refused:
                    raise AppendOnly(refused)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("deployments:drift-check", args=[self.pk])

    def delete(self, *args, **kwargs):
        raise AppendOnly("Drift checks are evidence and are never deleted.")

    @property
    def is_finished(self) -> bool:
        return self.status in DRIFT_FINISHED

    @property
    def duration(self):
        if not self.started_at or not self.finished_at:
            return None
        return self.finished_at - self.started_at

    @property
    def attribute_count(self) -> int:
        return sum(len(r.get("changes") or []) for r in self.resources)
