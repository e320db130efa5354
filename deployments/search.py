"""The top bar's search: deployments, bundles, environments, and runs by number, each as its reader may see."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import redirect, render

from bundles.models import Bundle

from .models import Environment
from .runs.selectors import runs_visible_to
from .selectors import deployments_visible_to

LIMIT = 20
RUN_NUMBER = re.compile(r"^(?:#|run\s*#?)\s*(\d{1,12})$|^(\d{1,12})$", re.IGNORECASE)


@dataclass
class Found:
    runs: list = field(default_factory=list)
    deployments: list = field(default_factory=list)
    environments: list = field(default_factory=list)
    bundles: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.runs) + len(self.deployments) + len(self.environments) + len(self.bundles)


def search_everything(user, query: str) -> Found:
    """What ``query`` finds for ``user``: a run by its number (``123``, ``#123``, ``run 123``), and deployments,
    environments and bundles whose names (or project, title, description) contain it."""
    found = Found()
    number = RUN_NUMBER.match(query)
    if number:
        found.runs = list(runs_visible_to(user).filter(pk=int(number.group(1) or number.group(2))))
    words = Q(name__icontains=query)
    found.deployments = list(
        deployments_visible_to(user)
        .filter(
            words
            | Q(environment__name__icontains=query)
            | Q(environment__project__slug__icontains=query)
            | Q(environment__project__name__icontains=query)
            | Q(bundle_version__bundle__name__icontains=query)
        )
        .order_by("name", "environment__project__slug")[:LIMIT]
    )
    found.environments = list(
        Environment.objects.visible_to(user)
        .select_related("project__team")
        .filter(
            words | Q(slug__icontains=query) | Q(project__slug__icontains=query) | Q(project__name__icontains=query)
        )
        .order_by("project__slug", "slug")[:LIMIT]
    )
    found.bundles = list(
        Bundle.objects.filter(versions__isnull=False)
        .filter(words | Q(title__icontains=query) | Q(description__icontains=query) | Q(category__icontains=query))
        .distinct()
        .order_by("name")[:LIMIT]
    )
    return found


@login_required
def search(request):
    query = request.GET.get("q", "").strip()[:200]
    found = search_everything(request.user, query) if query else None
    # A run's number goes straight to the run (a number in a bundle's description is not what was meant).
    if found and found.runs:
        return redirect(found.runs[0])
    return render(request, "deployments/search.html", {"query": query, "found": found})
