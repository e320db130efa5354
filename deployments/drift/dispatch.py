"""Scheduling and dispatching drift checks without flooding the workers.

- **Schedule** (:func:`drift_schedule`, Celery beat every ``SLIPWAY_DRIFT_TICK`` seconds): each live or
  drifted deployment whose last check is older than its tier's interval (``SLIPWAY_DRIFT_INTERVAL_<TIER>``,
  0 turns a tier off) gets a queued check. Queued checks are rows, not messages.
- **Dispatch** (:func:`drift_dispatch`): at most ``SLIPWAY_DRIFT_MAX_IN_FLIGHT`` checks are sent to the
  broker or running at once, on-demand ones first; while runs wait for a worker, none is sent (the
  checks back off). Every finished check dispatches the next, so a backlog drains one slot at a time and
  a developer's apply never queues behind hundreds of checks in the broker.
- A check sent but never finished (its worker died) is ended as an error after the plan timeout, so it
  does not hold a slot for ever.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone

from ..choices import RUN_EXECUTING, DeploymentStatus, RunStatus
from ..models import Deployment, Run, StateLock, StateVersion
from .models import DRIFT_PENDING, DriftCheck, DriftStatus

log = logging.getLogger(__name__)
_LOCK_KEY = 0x5D41F7  # one dispatcher at a time (PostgreSQL advisory lock)


def _serialize() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def workers_busy() -> bool:
    """Runs sent to the broker that no worker has taken yet (and nothing else holds back): the workers are busy."""
    executing = Run.objects.filter(deployment_id=OuterRef("deployment_id"), status__in=RUN_EXECUTING)
    locked = StateLock.objects.filter(deployment_id=OuterRef("deployment_id"))
    waiting = Run.objects.filter(status=RunStatus.QUEUED, enqueued_at__isnull=False)
    return waiting.filter(~Exists(executing), ~Exists(locked)).exists()


def in_flight() -> int:
    return DriftCheck.objects.filter(
        Q(status=DriftStatus.RUNNING) | Q(status=DriftStatus.QUEUED, dispatched_at__isnull=False)
    ).count()


def drift_dispatch() -> int:
    """Send queued checks to the workers up to the in-flight limit; returns how many were sent."""
    from .tasks import execute_drift_check  # why: the task module imports the services, which call this

    with transaction.atomic():
        _serialize()
        free = settings.SLIPWAY_DRIFT_MAX_IN_FLIGHT - in_flight()
        if free <= 0 or workers_busy():
            return 0
        first = Case(When(channel="schedule", then=Value(1)), default=Value(0), output_field=IntegerField())
        waiting = DriftCheck.objects.filter(status=DriftStatus.QUEUED, dispatched_at__isnull=True)
        ids = list(
            waiting.annotate(first=first).order_by("first", "created_at", "id").values_list("pk", flat=True)[:free]
        )
        DriftCheck.objects.filter(pk__in=ids).update(dispatched_at=timezone.now())
    sent = 0
    for check_id in ids:
        try:
            execute_drift_check.apply_async(args=[check_id], retry=False)
            sent += 1
        except Exception:  # the broker is down: the row waits for the next dispatch
            log.warning("broker unavailable; drift check %s waits", check_id, exc_info=True)
            DriftCheck.objects.filter(pk=check_id, status=DriftStatus.QUEUED).update(dispatched_at=None)
    return sent


def _due(tier: str, seconds: int, now):
    recent = DriftCheck.objects.filter(deployment_id=OuterRef("pk"), created_at__gte=now - timedelta(seconds=seconds))
    pending = DriftCheck.objects.filter(deployment_id=OuterRef("pk"), status__in=DRIFT_PENDING)
    applied = StateVersion.objects.filter(deployment_id=OuterRef("pk"))
    return Deployment.objects.filter(
        environment__tier=tier, status__in=(DeploymentStatus.LIVE, DeploymentStatus.DRIFTED)
    ).filter(~Exists(recent), ~Exists(pending), Exists(applied))


def reap_stale_checks(now=None) -> int:
    """Checks sent to a worker that never finished them (it died, or the message was lost) end as errors."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SLIPWAY_RUN_TIMEOUT.get("plan", 900) + 60)
    stale = DriftCheck.objects.filter(status__in=DRIFT_PENDING, dispatched_at__lt=cutoff)
    return stale.update(
        status=DriftStatus.ERROR,
        finished_at=now,
        error="No worker finished this check (it stopped, or the message was lost).",
    )


def drift_schedule(now=None) -> int:
    """Queue a check for each deployment due one by its tier's interval, then dispatch; returns how many were queued."""
    now = now or timezone.now()
    reap_stale_checks(now)
    queued = 0
    for tier, seconds in settings.SLIPWAY_DRIFT_INTERVALS.items():
        if seconds <= 0:
            continue
        with transaction.atomic():
            _serialize()
            due = list(_due(tier, seconds, now).values_list("pk", flat=True)[:5000])
            DriftCheck.objects.bulk_create(
                DriftCheck(deployment_id=pk, channel="schedule", requested_by_name="schedule") for pk in due
            )
        queued += len(due)
    drift_dispatch()
    return queued
