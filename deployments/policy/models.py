"""Environment policies (what an environment allows, what needs a person) and exception requests."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from bundles.models import Bundle
from bundles.schema import check_overlay_schema
from portal.history import Scope, tracked_history
from portal.querysets import TeamScopedQuerySet

from ..choices import Tier


class PolicyQuerySet(TeamScopedQuerySet):
    team_path = "environment__project__team"


class ExceptionRequestQuerySet(TeamScopedQuerySet):
    team_path = "environment__project__team"


def default_gated_actions(tier: str) -> list[str]:
    """Plan actions that need a person, by tier: replace and destroy in production, none elsewhere."""
    return ["replace", "destroy"] if tier == Tier.PRODUCTION else []


class Policy(models.Model):
    """An environment's policy: which bundles it allows, how it narrows their schemas, and which plan
    actions need a person. Saving bumps ``version``; every version is kept in history."""

    GATEABLE = ("add", "change", "replace", "destroy")

    environment = models.OneToOneField("deployments.Environment", on_delete=models.CASCADE, related_name="policy")
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
    monthly_budget = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Optional: what the environment's deployments may cost a month (the sum of their estimates). "
        "A change that takes it over is held as an exception request for ops.",
    )
    budget_currency = models.CharField(
        max_length=3,
        default="USD",
        help_text="The currency of the budget; deployments priced in another are not counted.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = tracked_history()

    objects = PolicyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return f"policy of {self.environment} v{self.version}"

    def save(self, *args, **kwargs) -> None:
        if self.pk:
            self.version = Policy.objects.filter(pk=self.pk).values_list("version", flat=True).first() + 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
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
        if self.monthly_budget is not None and self.monthly_budget < 0:
            errors["monthly_budget"] = ["A budget cannot be negative; leave it empty for no budget."]
        if not (
            len(self.budget_currency or "") == 3 and self.budget_currency.isalpha() and self.budget_currency.isupper()
        ):
            errors["budget_currency"] = ["A three-letter currency code such as USD or EUR."]
        if not isinstance(self.gated_actions, list) or set(self.gated_actions) - set(self.GATEABLE):
            errors["gated_actions"] = [f"A list of: {', '.join(self.GATEABLE)}."]
        if errors:
            raise ValidationError(errors)

    def history_scope(self) -> Scope:
        return self.environment.history_scope()

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

    environment = models.ForeignKey(
        "deployments.Environment", on_delete=models.PROTECT, related_name="exception_requests"
    )
    bundle_version = models.ForeignKey("bundles.BundleVersion", on_delete=models.PROTECT, related_name="+")
    deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.PROTECT, related_name="exception_requests"
    )
    name = models.SlugField(max_length=60, help_text="The deployment's name.")
    params = models.JSONField(default=dict, blank=True)
    sensitive_params = models.BinaryField(null=True, blank=True, editable=False)
    connections = models.JSONField(
        default=dict,
        blank=True,
        help_text="The producer (deployment id) of each connection the change asks for; empty: the change keeps them.",
    )
    moves_version = models.BooleanField(
        default=False, help_text="Approving it also moves the deployment to this bundle version (a promotion)."
    )
    violations = models.JSONField(default=dict, help_text="Policy errors by JSON pointer, as the developer saw them.")
    fields = models.JSONField(default=list, help_text="Top-level params outside the policy, for the backlog counts.")
    policy_version = models.PositiveIntegerField()
    # The monthly estimate asked for and the deployment's when it was asked, so the request always says
    # what it adds ("this change adds $1,200/month") whatever happens to the deployment later.
    monthly_cost = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True, editable=False)
    monthly_cost_before = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True, editable=False)
    cost_currency = models.CharField(max_length=3, blank=True, editable=False)
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    decided_by_name = models.CharField(max_length=150, blank=True)
    decision_comment = models.TextField(blank=True)
    run = models.ForeignKey("deployments.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="An approval for a while: after this the values are out of policy again."
    )
    expiry_warned_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ExceptionRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"exception #{self.pk} for {self.environment}/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("deployments:exception", args=[self.pk])

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
