"""Reads for the cost views: what each team, project or environment costs a month now, what it cost at the
start of the month (so what grew), its history month by month, and the biggest deployments.

Each deployment keeps its estimate (``monthly_cost``) with its params, and each history row keeps the
estimate and the scope (team, project, environment) at that time, so every figure here is a SQL sum:
the page, the API, ``slipway costs`` and ``bench/costs.py`` all read through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import CharField, Count, F, QuerySet, Sum, Value
from django.db.models.functions import Concat
from django.utils import timezone

from bundles.cost import money

from ..choices import DeploymentStatus
from ..models import Deployment

BY = ("team", "project", "environment")
# The group's key now (from the deployment's relations) and then (from a history row's scope columns).
_NOW_KEY = {
    "team": F("environment__project__team__slug"),
    "project": F("environment__project__slug"),
    "environment": Concat("environment__project__slug", Value("/"), "environment__slug", output_field=CharField()),
}
_THEN_KEY = {
    "team": F("scope_team"),
    "project": F("scope_project"),
    "environment": Concat("scope_project", Value("/"), "scope_environment", output_field=CharField()),
}


@dataclass
class CostGroup:
    """One team, project or environment: its monthly estimate now and at the start of the month."""

    key: str
    currency: str
    monthly: Decimal
    deployments: int
    month_start: Decimal = Decimal(0)

    @property
    def change(self) -> Decimal:
        return self.monthly - self.month_start

    @property
    def shown(self) -> dict:
        return {
            "monthly": money(self.monthly, self.currency),
            "month_start": money(self.month_start, self.currency),
            "change": money(self.change, self.currency, signed=True),
        }


def priced(deployments: QuerySet[Deployment]) -> QuerySet[Deployment]:
    """The deployments that cost something: priced by their bundle, and not destroyed."""
    return deployments.exclude(monthly_cost=None).exclude(status=DeploymentStatus.DESTROYED)


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def totals_now(deployments: QuerySet[Deployment], by: str) -> dict[tuple[str, str], tuple[Decimal, int]]:
    """{(group, currency): (monthly total, deployments)} for the deployments priced now."""
    rows = (
        priced(deployments)
        .annotate(group=_NOW_KEY[by])
        .values("group", "cost_currency")
        .annotate(total=Sum("monthly_cost"), n=Count("pk"))
        .order_by()
    )
    return {(r["group"], r["cost_currency"]): (r["total"], r["n"]) for r in rows}


def totals_as_of(deployments: QuerySet[Deployment], by: str, at: datetime) -> dict[tuple[str, str], Decimal]:
    """{(group, currency): monthly total} of the same deployments as they were at ``at`` (their history)."""
    then = Deployment.history.as_of(at).filter(id__in=deployments.values("pk"))
    rows = (
        then.exclude(monthly_cost=None)
        .exclude(status=DeploymentStatus.DESTROYED)
        .annotate(group=_THEN_KEY[by])
        .values("group", "cost_currency")
        .annotate(total=Sum("monthly_cost"))
        .order_by()
    )
    return {(r["group"], r["cost_currency"]): r["total"] for r in rows}


def cost_groups(deployments: QuerySet[Deployment], by: str, *, since: datetime | None = None) -> list[CostGroup]:
    """Each group's monthly estimate now beside the one at ``since`` (default: the start of this month), most
    expensive first. A group that cost something then and nothing now is listed too, at zero."""
    since = since or month_start()
    now, then = totals_now(deployments, by), totals_as_of(deployments, by, since)
    groups = [
        CostGroup(
            key=group,
            currency=currency,
            monthly=now.get((group, currency), (Decimal(0), 0))[0],
            deployments=now.get((group, currency), (Decimal(0), 0))[1],
            month_start=then.get((group, currency), Decimal(0)),
        )
        for group, currency in {*now, *then}
    ]
    return sorted(groups, key=lambda g: (-g.monthly, g.key, g.currency))


def biggest(deployments: QuerySet[Deployment], limit: int = 10) -> list[Deployment]:
    """The most expensive deployments now."""
    related = ("environment__project__team", "bundle_version__bundle")
    return list(priced(deployments).select_related(*related).order_by("-monthly_cost", "name")[:limit])


def monthly_history(deployments: QuerySet[Deployment], *, months: int = 6, now: datetime | None = None) -> list:
    """[(first day of the month, {currency: total})] for the last ``months`` month starts, oldest first, and
    now last: the chart of what the deployments cost over time."""
    start = month_start(now)
    points = []
    for back in range(months - 1, -1, -1):
        year, month = divmod(start.year * 12 + start.month - 1 - back, 12)
        at = start.replace(year=year, month=month + 1)
        totals: dict[str, Decimal] = {}
        for (_, currency), total in totals_as_of(deployments, "team", at).items():
            totals[currency] = totals.get(currency, Decimal(0)) + total
        points.append((at, totals))
    current: dict[str, Decimal] = {}
    for (_, currency), (total, _) in totals_now(deployments, "team").items():
        current[currency] = current.get(currency, Decimal(0)) + total
    points.append((timezone.localtime(now or timezone.now()), current))
    return points
