"""The cost of a change, in words: what a run or an exception request adds to (or saves from) a month."""

from __future__ import annotations

from dataclasses import dataclass

from bundles.cost import Estimate, change_words

from ..choices import RunAction, RunStatus
from ..models import ExceptionRequest, Run


@dataclass(frozen=True)
class CostChange:
    """A configuration's monthly estimate after a change, the one before, and the change in words."""

    after: Estimate | None
    before: Estimate | None

    @property
    def words(self) -> str:
        return change_words(self.after, self.before)

    @property
    def shown(self) -> bool:
        return self.after is not None or self.before is not None


def _applied_before(run: Run) -> Run | None:
    return (
        Run.objects.filter(
            deployment_id=run.deployment_id,
            action=RunAction.APPLY,
            status=RunStatus.SUCCEEDED,
            created_at__lt=run.created_at,
        )
        .select_related("bundle_version")
        .order_by("-created_at", "-id")
        .first()
    )


def run_cost_change(run: Run) -> CostChange:
    """What the configuration ``run`` makes real costs a month, against the last configuration applied before
    it (nothing, for a first apply; nothing after, for a destroy). Runs never change, so neither does this."""
    previous = _applied_before(run)
    before = previous.bundle_version.monthly_estimate(previous.params) if previous else None
    if run.action == RunAction.DESTROY:
        after = Estimate(before.amount * 0, before.currency) if before else None
    else:
        after = run.bundle_version.monthly_estimate(run.params)
    return CostChange(after=after, before=before)


def exception_cost_change(request: ExceptionRequest) -> CostChange:
    """The monthly estimate an exception asks for, against the deployment's when it was asked (both kept)."""
    currency = request.cost_currency
    after = Estimate(request.monthly_cost, currency) if request.monthly_cost is not None else None
    before = Estimate(request.monthly_cost_before, currency) if request.monthly_cost_before is not None else None
    return CostChange(after=after, before=before)
