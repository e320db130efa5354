"""The tasks that advance environment runs. A run of one of its deployments finishing sends a drive
(``run_finished``, on commit); beat drives every active one now and then, which covers what sends no
signal (a queued run cancelled, a held plan rejected) and a message the broker lost."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from .models import EnvironmentRun
from .previews import previews_expire
from .services import env_runs_for, environment_run_drive

log = logging.getLogger(__name__)


@shared_task(name="deployments.environments.drive", acks_late=True, ignore_result=True)
def drive_environment_run(env_run_id: int) -> None:
    """Advance one environment run: idempotent, so a duplicate or late message is harmless."""
    environment_run_drive(env_run_id)


@shared_task(name="deployments.environments.kick", ignore_result=True)
def kick_environment_runs() -> int:
    """Periodic safety net: advance every active environment run."""
    ids = list(EnvironmentRun.objects.filter(status__in=EnvironmentRun.ACTIVE).values_list("pk", flat=True))
    return sum(environment_run_drive(pk) for pk in ids)


def send_drive(env_run_id: int) -> None:
    try:
        drive_environment_run.apply_async(args=[env_run_id], retry=False)
    except Exception:  # the broker is down: beat's kick advances it later
        log.warning("broker unavailable; environment run %s waits for the next kick", env_run_id, exc_info=True)


def run_finished_drives(sender, run, **kwargs) -> None:
    """``run_finished``: the environment runs waiting for this run are advanced once its move is committed."""
    for env_run_id in env_runs_for(run):
        transaction.on_commit(lambda pk=env_run_id: send_drive(pk))


@shared_task(name="deployments.environments.expire_previews", ignore_result=True)
def expire_previews() -> tuple[int, int]:
    """Beat, every ``SLIPWAY_PREVIEW_TICK`` seconds: warn the owners of previews about to expire (once), tear
    down the expired ones."""
    return previews_expire()
