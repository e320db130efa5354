"""Projects, environments and deployments; the models of the runs, policy and estate sub-domains are
defined in their packages and re-exported here, so ``deployments.models`` names every model of the app."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from portal.history import Scope, tracked_history
from portal.querysets import TeamScopedQuerySet

from . import secrets
from .choices import DeploymentStatus, Tier


class ProjectQuerySet(TeamScopedQuerySet):
    team_path = "team"


class EnvironmentQuerySet(TeamScopedQuerySet):
    team_path = "project__team"


class DeploymentQuerySet(TeamScopedQuerySet):
    team_path = "environment__project__team"


class Project(models.Model):
    """A product area owned by one team, e.g. ``checkout``."""

    team = models.ForeignKey("portal.Team", on_delete=models.PROTECT, related_name="projects")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = tracked_history()

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def history_scope(self) -> Scope:
        return self.team.history_scope().within(project_id=self.pk, project=self.slug)


class Environment(models.Model):
    """Where a project's deployments live; its tier decides what policy applies."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="environments")
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.PROTOTYPE)
    created_at = models.DateTimeField(auto_now_add=True)
    # A preview environment (docs/environments.md, "Preview environments"): a fork of ``preview_source`` for one
    # pull request, made and kept up to date by CI, torn down when it is closed or when it expires.
    is_preview = models.BooleanField(default=False)
    preview_source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="previews",
        help_text="The environment the preview is a copy of.",
    )  # fmt: skip
    preview_repository = models.CharField(max_length=200, blank=True, help_text="Free text, e.g. acme/checkout.")
    preview_pull_request = models.CharField(max_length=100, blank=True, help_text="Free text, e.g. 123.")
    preview_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Who is told before it expires.",
    )  # fmt: skip
    preview_expires_at = models.DateTimeField(null=True, blank=True, help_text="When the scheduler tears it down.")
    preview_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    preview_torn_down_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = tracked_history()

    objects = EnvironmentQuerySet.as_manager()

    class Meta:
        ordering = ["project__slug", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="environment_unique_slug"),
            # One preview per source, repository and pull request: what makes "ensure" idempotent.
            models.UniqueConstraint(
                fields=["preview_source", "preview_repository", "preview_pull_request"],
                condition=models.Q(is_preview=True),
                name="environment_unique_preview",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.slug}"

    def history_scope(self) -> Scope:
        return self.project.history_scope().within(environment_id=self.pk, environment=self.slug, tier=self.tier)


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
    connections = models.JSONField(
        default=dict, blank=True, help_text="Each connection's producer: {connection name: deployment id}."
    )
    status = models.CharField(max_length=20, choices=DeploymentStatus.choices, default=DeploymentStatus.DRAFT)
    # Kept with the params on every save (so history holds the cost at each point in time, and sums are SQL).
    monthly_cost = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        editable=False,
        help_text="The monthly estimate of the params under the bundle's cost model; empty when it has none.",
    )
    cost_currency = models.CharField(max_length=3, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, help_text="Optimistic-lock counter, bumped on every change.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = tracked_history(excluded_fields=["sensitive_outputs", "sensitive_params", "updated_at"])

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        # The default order: the overview's recent deployments and the API list read the newest first; the
        # list's pages read their keys from this index alone (the id breaks ties: a page is stable).
        # The overview counts deployments by status from its index.
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="deployment_updated_id_newest"),
            models.Index(fields=["status"], name="deployment_status"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="deployment_unique_name"),
            # `ABC` and `abc` are one name to people, to the engine's resource names and to most clouds.
            models.UniqueConstraint(
                "environment", Lower("name"), name="deployment_unique_name_ci", violation_error_code="name_taken"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment}/{self.name}"

    def save(self, *args, **kwargs) -> None:
        estimate = self.bundle_version.monthly_estimate(self.params)
        self.monthly_cost, self.cost_currency = (estimate.amount, estimate.currency) if estimate else (None, "")
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "monthly_cost", "cost_currency"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("deployments:detail", args=[self.pk])

    def history_scope(self) -> Scope:
        return self.environment.history_scope()

    @property
    def project(self) -> Project:
        return self.environment.project

    @property
    def bundle(self):
        return self.bundle_version.bundle

    def full_params(self) -> dict:
        """Params with sensitive values decrypted: only for the runner and for re-validation."""
        return secrets.merge(self.params, self.sensitive_params)

    @property
    def name_prefix(self) -> str:
        return f"{self.environment.project.slug}-{self.environment.slug}-{self.name}"[:63]


# The sub-domains' models, defined in their own packages (Django finds them through this module).
from .alarms.models import AlarmEndpoint, AlarmEvent, SnsSubscription  # noqa: E402
from .connections.models import Artifact  # noqa: E402
from .drift.models import DriftCheck  # noqa: E402
from .environments.models import EnvironmentRun, EnvironmentRunStep  # noqa: E402
from .estate.models import BulkChange, BulkTarget, EstatePosting, EstateTerm, SavedQuery, StateResource  # noqa: E402
from .policy.models import ExceptionRequest, Policy, default_gated_actions  # noqa: E402
from .runs.models import Run, RunLogLine, StateLock, StateVersion, Worker  # noqa: E402

__all__ = [
    "AlarmEndpoint",
    "AlarmEvent",
    "Artifact",
    "BulkChange",
    "BulkTarget",
    "Deployment",
    "DriftCheck",
    "Environment",
    "EnvironmentRun",
    "EnvironmentRunStep",
    "EstatePosting",
    "EstateTerm",
    "ExceptionRequest",
    "Policy",
    "Project",
    "Run",
    "RunLogLine",
    "SavedQuery",
    "SnsSubscription",
    "StateLock",
    "StateResource",
    "StateVersion",
    "Worker",
    "default_gated_actions",
]
