"""Reads about environments as a unit: the latest environment run and its progress level by level; the preview
environments one can see, with their cost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count

from bundles.cost import money

from ..choices import DeploymentStatus
from ..costs.selectors import totals_now
from ..models import Deployment, Environment
from .models import EnvironmentRun, EnvironmentRunStep

Step = EnvironmentRunStep.Status


@dataclass
class Level:
    """One level of an environment run, as its page shows it."""

    number: int
    steps: list[EnvironmentRunStep]

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps if s.status == Step.SUCCEEDED)

    @property
    def status(self) -> str:
        statuses = {s.status for s in self.steps}
        if Step.FAILED in statuses:
            return "failed"
        if statuses & {Step.RUNNING, Step.HELD}:
            return "running"
        if statuses == {Step.SUCCEEDED}:
            return "succeeded"
        if statuses <= {Step.NOT_STARTED}:
            return "not_started"
        return "waiting"

    @property
    def label(self) -> str:
        return self.status.replace("_", " ").capitalize()

    @property
    def percent(self) -> int:
        return round(100 * self.done / len(self.steps)) if self.steps else 0


def latest_env_run(environment: Environment) -> EnvironmentRun | None:
    return EnvironmentRun.objects.filter(environment=environment).order_by("-id").first()


def env_run_levels(env_run: EnvironmentRun) -> list[Level]:
    """The run's levels in the order they run, each with its deployments and their runs."""
    steps = env_run.steps.select_related("deployment__bundle_version__bundle", "run").order_by(
        "level", "deployment__name"
    )
    levels: dict[int, list] = {}
    for step in steps:
        levels.setdefault(step.level, []).append(step)
    return [Level(number + 1, members) for number, members in sorted(levels.items())]


def step_by_deployment(env_run: EnvironmentRun | None) -> dict[str, EnvironmentRunStep]:
    """Each deployment's step in ``env_run`` (for the canvas nodes), by deployment id as a string."""
    if env_run is None:
        return {}
    return {str(s.deployment_id): s for s in env_run.steps.all()}


@dataclass
class PreviewRow:
    """One preview environment as the overview, the API and the CLI list it."""

    environment: Environment
    costs: list[tuple[str, Decimal]]  # (currency, monthly total) of its priced deployments that are not destroyed
    deployments: int

    @property
    def torn_down(self) -> bool:
        return self.environment.preview_torn_down_at is not None

    @property
    def cost_text(self) -> str:
        if not self.costs:
            return "no estimate"
        return " + ".join(f"{money(total, currency)}/month" for currency, total in self.costs)


def previews_visible_to(user, *, include_torn_down: bool = True, pk: int | None = None) -> list[PreviewRow]:
    """The preview environments ``user`` can see (or the one ``pk``), newest first, each with its monthly cost (the
    deployments' own estimates, ``costs.selectors.totals_now``)."""
    previews = Environment.objects.visible_to(user).filter(is_preview=True)
    if pk is not None:
        previews = previews.filter(pk=pk)
    if not include_torn_down:
        previews = previews.filter(preview_torn_down_at=None)
    return preview_rows(previews)


def preview_rows(environments) -> list[PreviewRow]:
    """Each of ``environments`` (previews), newest first, with its cost and how many deployments it holds."""
    previews = list(
        environments.select_related("project", "preview_source__project", "preview_owner").order_by(
            "-created_at", "-pk"
        )
    )
    deployments = Deployment.objects.filter(environment__in=previews)
    totals = totals_now(deployments, "environment")
    counts = dict(
        deployments.exclude(status=DeploymentStatus.DESTROYED)
        .values("environment")
        .annotate(n=Count("pk"))
        .values_list("environment", "n")
    )
    rows = []
    for env in previews:
        key = str(env)
        costs = sorted((currency, total) for (group, currency), (total, _) in totals.items() if group == key)
        rows.append(PreviewRow(env, costs, counts.get(env.pk, 0)))
    return rows
