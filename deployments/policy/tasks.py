"""Celery tasks of policy (registered through ``deployments.tasks``)."""

from __future__ import annotations

from celery import shared_task

from .services import exceptions_warn_expiring


@shared_task(name="deployments.policy.warn_expiring_exceptions", ignore_result=True)
def warn_expiring_exceptions() -> int:
    """Beat's hourly look for time-limited exceptions about to expire: their owners are told once."""
    return exceptions_warn_expiring()
