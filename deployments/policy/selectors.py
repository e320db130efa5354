"""Reads for exception requests."""

from __future__ import annotations

from django.db.models import QuerySet

from ..models import ExceptionRequest

EXCEPTION_RELATED = ("environment__project__team", "bundle_version__bundle", "run")


def exceptions_visible_to(user) -> QuerySet[ExceptionRequest]:
    """Exception requests: ops and reviewers see all; developers those of their teams' environments."""
    return ExceptionRequest.objects.visible_to(user).select_related(*EXCEPTION_RELATED)
