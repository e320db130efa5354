"""Reads: what a user may see and change."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.roles import can_read_everything, is_ops

from .choices import RUN_ACTIVE
from .models import Deployment, Environment, Project, Run, RunLogLine


def projects_visible_to(user) -> QuerySet[Project]:
    qs = Project.objects.select_related("team")
    if not user.is_authenticated:
        return qs.none()
    if can_read_everything(user):
        return qs
    return qs.filter(team__memberships__user=user)


def environments_writable_by(user) -> QuerySet[Environment]:
    """Environments where ``user`` may create and change deployments (auditors may not)."""
    qs = Environment.objects.select_related("project", "project__team").order_by("project__slug", "tier", "slug")
    if not user.is_authenticated:
        return qs.none()
    if is_ops(user):
        return qs
    return qs.filter(project__team__memberships__user=user)


def deployments_visible_to(user) -> QuerySet[Deployment]:
    qs = Deployment.objects.select_related(
        "environment", "environment__project", "environment__project__team", "bundle_version", "bundle_version__bundle"
    )
    if not user.is_authenticated:
        return qs.none()
    if can_read_everything(user):
        return qs
    return qs.filter(environment__project__team__memberships__user=user)


def can_change_deployment(user, deployment: Deployment) -> bool:
    return environments_writable_by(user).filter(pk=deployment.environment_id).exists()


def runs_visible_to(user) -> QuerySet[Run]:
    return Run.objects.select_related(
        "deployment", "deployment__environment__project", "bundle_version__bundle"
    ).filter(deployment__in=deployments_visible_to(user))


def run_log_after(run: Run, after: int, limit: int = 500) -> list[RunLogLine]:
    """Log lines after cursor ``after``, in order."""
    return list(run.log_lines.filter(seq__gt=after).order_by("seq")[:limit])


def deployment_active_runs(deployment: Deployment) -> QuerySet[Run]:
    """Runs not yet finished, oldest first: the one running, then those waiting behind it."""
    return deployment.runs.filter(status__in=RUN_ACTIVE).order_by("created_at", "id")


def exceptions_visible_to(user):
    """Exception requests: ops and reviewers see all; developers those of their teams' environments."""
    from .models import ExceptionRequest

    qs = ExceptionRequest.objects.select_related("environment__project__team", "bundle_version__bundle", "run")
    if not user.is_authenticated:
        return qs.none()
    if can_read_everything(user):
        return qs
    return qs.filter(environment__project__team__memberships__user=user)
