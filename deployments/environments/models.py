"""Environment runs: one action (deploy, plan, teardown) over every deployment of an environment, in the
order of its connection graph. The record is advanced by :mod:`.orchestrate`; each deployment's own run
is an ordinary run, created through ``run_create`` like any other."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from portal.querysets import TeamScopedQuerySet


class EnvironmentRunQuerySet(TeamScopedQuerySet):
    team_path = "environment__project__team"


class EnvironmentRun(models.Model):
    """Deploy (apply), plan or tear down a whole environment, level by level.

    Level 0 holds the deployments that connect to nothing (producers); level N those whose producers are
    all below N. Deploy and plan go up from level 0, teardown comes down from the top. The deployments of
    one level run in parallel (as many at once as there are workers); the next level starts when every run
    of the level succeeded. A failure lets the rest of its level finish, then stops: the levels after it
    never start, and the record says which deployment failed and why.
    """

    class Action(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        PLAN = "plan", "Plan"
        TEARDOWN = "teardown", "Tear down"

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.RUNNING,)

    environment = models.ForeignKey("deployments.Environment", on_delete=models.PROTECT, related_name="env_runs")
    action = models.CharField(max_length=10, choices=Action.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING, db_index=True)
    level = models.IntegerField(default=-1, help_text="The level under way (its index in the order it runs).")
    levels = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="Where it is, in words.")
    error = models.TextField(blank=True, help_text="Which deployment failed and why.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=20, default="ui")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    driven_at = models.DateTimeField(null=True, blank=True, help_text="When it was last advanced.")

    objects = EnvironmentRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One environment-wide action at a time: two would race each other's levels.
            models.UniqueConstraint(
                fields=["environment"], condition=models.Q(status="running"), name="env_run_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.environment} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("deployments:env-run", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def run_action(self) -> str:
        return {"deploy": "apply", "plan": "plan", "teardown": "destroy"}[self.action]


class EnvironmentRunStep(models.Model):
    """One deployment in an environment run: its level, its run once started, and how that went."""

    class Status(models.TextChoices):
        WAITING = "waiting"
        RUNNING = "running"
        HELD = "held", "Waiting for a person"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        NOT_STARTED = "not_started", "Not started"

    DONE = (Status.SUCCEEDED, Status.FAILED, Status.NOT_STARTED)

    environment_run = models.ForeignKey(EnvironmentRun, on_delete=models.CASCADE, related_name="steps")
    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.PROTECT, related_name="env_steps")
    level = models.PositiveIntegerField(help_text="The order it runs in: 0 first.")
    run = models.ForeignKey("deployments.Run", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["environment_run", "level", "deployment__name"]
        constraints = [
            models.UniqueConstraint(fields=["environment_run", "deployment"], name="env_run_step_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment.name} (level {self.level}): {self.status}"
