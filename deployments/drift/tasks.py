"""Celery tasks of drift detection (registered through ``deployments.tasks``)."""

from __future__ import annotations

from celery import shared_task

from .dispatch import drift_dispatch, drift_schedule
from .services import drift_check_execute


@shared_task(name="deployments.drift.execute_check", acks_late=True, ignore_result=True)
def execute_drift_check(check_id: int) -> None:
    """Run one check, then send the next queued one (its slot is free)."""
    try:
        drift_check_execute(check_id)
    finally:
        drift_dispatch()


@shared_task(name="deployments.drift.schedule_checks", ignore_result=True)
def schedule_drift_checks() -> int:
    return drift_schedule()
