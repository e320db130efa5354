"""The costs page: what each team, project or environment costs a month, what grew this month, the history
month by month, the biggest deployments; and the same deployments as a CSV."""

from __future__ import annotations

import csv
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from bundles.cost import money
from portal.spreadsheets import spreadsheet_safe

from ..models import Deployment
from .selectors import BY, biggest, cost_groups, month_start, monthly_history, priced

CHART_HEIGHT = 120


def _chart(points: list, currency: str) -> list[dict]:
    """Bars for the server-drawn chart: one per month start (and now), heights scaled to the largest."""
    largest = max((totals.get(currency, Decimal(0)) for _, totals in points), default=Decimal(0)) or Decimal(1)
    bars = []
    for index, (at, totals) in enumerate(points):
        total = totals.get(currency, Decimal(0))
        height = int(total / largest * CHART_HEIGHT)
        last = index == len(points) - 1
        bars.append(
            {
                "x": index * 70 + 10,
                "y": CHART_HEIGHT - height + 20,
                "height": height,
                "label": "now" if last else at.strftime("%b %Y"),
                "amount": money(total, currency),
            }
        )
    return bars


def _csv(deployments) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="slipway-costs.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["team", "project", "environment", "deployment", "bundle", "version", "status", "monthly", "currency"]
    )
    for d in priced(deployments).select_related("environment__project__team", "bundle_version__bundle"):
        row = [
            d.environment.project.team.slug,
            d.environment.project.slug,
            d.environment.slug,
            d.name,
            d.bundle_version.bundle.name,
            d.bundle_version.version,
            d.status,
            d.monthly_cost,
            d.cost_currency,
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return response


@login_required
def costs_page(request):
    """``?by=team|project|environment``; ``?format=csv`` for every priced deployment you can see."""
    by = request.GET.get("by") if request.GET.get("by") in BY else "team"
    deployments = Deployment.objects.visible_to(request.user)
    if request.GET.get("format") == "csv":
        return _csv(deployments)
    groups = cost_groups(deployments, by)
    totals: dict[str, Decimal] = {}
    for group in groups:
        totals[group.currency] = totals.get(group.currency, Decimal(0)) + group.monthly
    history = monthly_history(deployments)
    currency = max(totals, key=lambda c: totals[c]) if totals else "USD"
    largest = biggest(deployments)
    for deployment in largest:
        deployment.monthly_shown = money(deployment.monthly_cost, deployment.cost_currency)
    context = {
        "by": by,
        "choices": BY,
        "groups": groups,
        "totals": [money(amount, c) for c, amount in sorted(totals.items())],
        "grown": [g for g in groups if g.change > 0][:5],
        "biggest": largest,
        "since": month_start(),
        "chart": _chart(history, currency),
        "chart_currency": currency,
        "chart_height": CHART_HEIGHT + 50,
        "chart_width": len(history) * 70 + 20,
    }
    return render(request, "deployments/costs.html", context)
