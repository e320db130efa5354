"""Reads: what a user may see and change, through the one permission rule (:mod:`portal.querysets`)."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.querysets import CHANGE

from .choices import RUN_ACTIVE
from .models import Deployment, Environment, Project, Run

DEPLOYMENT_RELATED = ("environment__project__team", "bundle_version__bundle")


def projects_visible_to(user) -> QuerySet[Project]:
    return Project.objects.visible_to(user).select_related("team")


def environments_writable_by(user) -> QuerySet[Environment]:
    """Environments where ``user`` may create and change deployments (auditors may not)."""
    return (
        Environment.objects.actionable_by(user, CHANGE)
        .select_related("project", "project__team")
        .order_by("project__slug", "tier", "slug")
    )


def deployments_visible_to(user) -> QuerySet[Deployment]:
    return Deployment.objects.visible_to(user).select_related(*DEPLOYMENT_RELATED)


def can_change_deployment(user, deployment: Deployment) -> bool:
    return Deployment.objects.actionable_by(user, CHANGE).filter(pk=deployment.pk).exists()


def deployment_active_runs(deployment: Deployment) -> QuerySet[Run]:
    """Runs not yet finished, oldest first: the one running, then those waiting behind it."""
    return deployment.runs.filter(status__in=RUN_ACTIVE).order_by("created_at", "id")
