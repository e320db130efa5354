"""Budgets: an environment's policy may set a monthly budget; a change that takes the environment over it
is not approved by the policy (it becomes an exception request, showing the amount, for ops to decide).

Only a change that costs more counts: a change that costs the same or less (a re-apply, a smaller size) is
never held for the budget, even in an environment already over it."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from bundles.cost import money

from ..choices import DeploymentStatus
from ..models import Deployment, Environment

# What costs nothing yet: destroyed, or a draft (a fork's copy) never applied; applying it adds its estimate.
NOT_RUNNING = (DeploymentStatus.DESTROYED, DeploymentStatus.DRAFT)


def environment_monthly_total(environment: Environment, currency: str, *, without: Deployment | None = None) -> Decimal:
    """What the environment's running deployments (not destroyed, not drafts) priced in ``currency`` cost a
    month, optionally leaving one out (the deployment being changed)."""
    deployments = Deployment.objects.filter(environment=environment, cost_currency=currency).exclude(
        status__in=NOT_RUNNING
    )
    if without is not None and without.pk:
        deployments = deployments.exclude(pk=without.pk)
    return deployments.aggregate(total=Sum("monthly_cost"))["total"] or Decimal(0)


def monthly_added(*, policy, bundle_version, params: dict, deployment: Deployment | None = None) -> Decimal:
    """What a change adds to the environment's month in its budget's currency (0 when it costs the same or less,
    has no estimate, or is priced in another currency)."""
    estimate = bundle_version.monthly_estimate(params)
    if estimate is None or estimate.currency != policy.budget_currency:
        return Decimal(0)
    counted = deployment is not None and deployment.pk and deployment.status not in NOT_RUNNING
    before = deployment.monthly_cost if counted and deployment.cost_currency == estimate.currency else None
    return max(Decimal(0), estimate.amount - (before or Decimal(0)))


def over_budget(
    *, policy, bundle_version, params: dict, deployment: Deployment | None = None, pending: Decimal = Decimal(0)
) -> str:
    """The sentence that holds a change for going over the environment's monthly budget, or "" when it
    does not (no budget, no estimate, another currency, or a change that does not add to the month).

    ``pending`` is what other changes not applied yet add to the same environment (a bulk change's dry run
    counts its earlier targets there), so many small changes cannot pass one by one what they break together."""
    budget = policy.monthly_budget
    estimate = bundle_version.monthly_estimate(params)
    if budget is None or estimate is None or estimate.currency != policy.budget_currency:
        return ""
    currency = estimate.currency
    added = monthly_added(policy=policy, bundle_version=bundle_version, params=params, deployment=deployment)
    if added <= 0:
        return ""
    total = environment_monthly_total(policy.environment, currency, without=deployment) + estimate.amount + pending
    if total <= budget:
        return ""
    return (
        f"This change adds {money(added, currency)}/month and takes {policy.environment} to "
        f"{money(total, currency)}/month, over its monthly budget of {money(budget, currency)} "
        f"(policy v{policy.version}). Request an exception: platform ops decide."
    )
