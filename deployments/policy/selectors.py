"""Reads for exception requests."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import Deployment, ExceptionRequest
from .rules import check_params

EXCEPTION_RELATED = ("environment__project__team", "bundle_version__bundle", "run")


def exceptions_visible_to(user) -> QuerySet[ExceptionRequest]:
    """Exception requests: ops and reviewers see all; developers those of their teams' environments."""
    return ExceptionRequest.objects.visible_to(user).select_related(*EXCEPTION_RELATED)


def standing_exceptions(deployment: Deployment) -> dict[str, ExceptionRequest]:
    """For each top-level field an approved exception of this deployment covers, the latest such exception
    (a new deployment's exception is found through the run it made)."""
    approved = ExceptionRequest.objects.filter(
        Q(deployment=deployment) | Q(run__deployment=deployment), status=ExceptionRequest.Status.APPROVED
    ).order_by("decided_at", "pk")
    standing: dict[str, ExceptionRequest] = {}
    for exception in approved:
        for name in exception.fields:
            standing[name] = exception
    return standing


def expired_exception_fields(deployment: Deployment | None) -> set[str]:
    """The fields whose latest exception has expired: their values are out of policy again."""
    if deployment is None or deployment.pk is None:
        return set()
    return {name for name, exception in standing_exceptions(deployment).items() if exception.expired}


def exception_notices(deployment: Deployment) -> list[dict]:
    """What the deployment's page says of its time-limited exceptions whose values it still holds outside
    the policy: each exception, the fields, when it expires (or expired) and whether it has."""
    timed = {n: e for n, e in standing_exceptions(deployment).items() if e.expires_at is not None}
    if not timed:
        return []
    outside = set(
        check_params(
            environment=deployment.environment, bundle_version=deployment.bundle_version, params=deployment.params
        ).fields
    )
    notices: dict[int, dict] = {}
    for name, exception in timed.items():
        if name in outside:
            notice = notices.setdefault(
                exception.pk, {"exception": exception, "fields": [], "expired": exception.expired}
            )
            notice["fields"].append(name)
    return sorted(notices.values(), key=lambda n: n["exception"].expires_at)


def exceptions_expiring_soon(now=None) -> QuerySet[ExceptionRequest]:
    """Approved exceptions that expire within ``SLIPWAY_EXCEPTION_WARN_DAYS`` and whose owner was not told yet."""
    now = now or timezone.now()
    return ExceptionRequest.objects.filter(
        status=ExceptionRequest.Status.APPROVED,
        expiry_warned_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=settings.SLIPWAY_EXCEPTION_WARN_DAYS),
    ).select_related("environment__project__team", "bundle_version__bundle", "run__deployment", "deployment")
