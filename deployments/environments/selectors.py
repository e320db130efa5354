"""Reads about environment runs: the latest one of an environment, and its progress level by level."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Environment
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
