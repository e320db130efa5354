"""Celery tasks for runs, and sending them. Task names keep the ``deployments.tasks`` prefix they
were first published under, so messages already queued (and the beat schedule) still find them."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from celery.signals import beat_init, worker_init, worker_process_init, worker_ready, worker_shutting_down
from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from ..choices import RunStatus
from ..models import Run, Worker
from . import engine, runner, workdirs

log = logging.getLogger(__name__)


@shared_task(name="deployments.tasks.execute_run", acks_late=True, ignore_result=True)
def execute_run(run_id: int) -> None:
    """Run the pipeline for one run, then each run queued behind it on the same deployment (in this worker,
    without going back to the broker); a message for a run that another run holds back ends at once."""
    # The Celery node name (``name@host``): two workers on one host are told apart.
    runner.execute_in_line(run_id, worker=execute_run.request.hostname or "")


def run_enqueue(*, run_id: int) -> bool:
    """Send the run's task to the broker. Never raises: a run the broker did not take stays queued in
    the database and the periodic requeue sends it again, so an accepted request is never lost."""
    try:
        execute_run.apply_async(args=[run_id], retry=False)
    except Exception:  # the broker is down or unreachable
        log.warning("broker unavailable; run %s stays queued for the periodic requeue", run_id, exc_info=True)
        return False
    Run.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    return True


def run_enqueue_next(*, deployment_id) -> None:
    """Send the oldest queued run of a deployment, if any: called when whatever held it back is gone."""
    next_run = (
        Run.objects.filter(deployment_id=deployment_id, status=RunStatus.QUEUED).order_by("created_at", "id").first()
    )
    if next_run is not None:
        run_enqueue(run_id=next_run.pk)


@shared_task(name="deployments.tasks.requeue_lost_runs", ignore_result=True)
def requeue_lost_runs() -> int:
    """Send again queued runs the broker never delivered (it was down, or a message was lost).

    Claiming is conditional, so a run sent twice still executes once.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.SLIPWAY_REQUEUE_AFTER_SECONDS)
    never_sent = Q(enqueued_at__isnull=True, created_at__lt=now - timedelta(seconds=10))
    stale = Run.objects.filter(status=RunStatus.QUEUED).filter(never_sent | Q(enqueued_at__lt=cutoff))
    count = 0
    for run_id in stale.order_by("created_at").values_list("pk", flat=True)[:500]:
        count += run_enqueue(run_id=run_id)
    return count


@shared_task(name="deployments.tasks.reap_interrupted_runs", ignore_result=True)
def reap_interrupted_runs() -> int:
    """Runs whose worker died (no heartbeat) become interrupted, with the lock they left behind."""
    return len(runner.reap_interrupted(stale_after=settings.SLIPWAY_RUN_STALE_SECONDS))


@worker_init.connect
@worker_process_init.connect
def worker_environment_protected(**kwargs) -> None:
    """Neither the engine nor anything a module runs may read a worker's environment (its keys) from /proc."""
    engine.protect_environment()


@worker_ready.connect
def worker_started(sender=None, **kwargs) -> None:
    """A worker starting removes what crashed runs left on this host's disk (after saving any state in it),
    and from then on tells the database it is alive (the overview says when no worker is)."""
    try:
        workdirs.clean(Path(settings.SLIPWAY_WORKDIR))
    except Exception:  # never stop a worker from starting over a directory it cannot read
        log.exception("cleaning the work directories failed")
    name = getattr(sender, "hostname", "") or socket.gethostname()
    with contextlib.suppress(OSError):
        workdirs.mark_stopping(Path(settings.SLIPWAY_WORKDIR), name, stopping=False)
    threading.Thread(target=_worker_alive, args=(name,), name="slipway-worker-alive", daemon=True).start()


def _worker_alive(name: str) -> None:
    started = timezone.now()
    while True:
        try:
            Worker.objects.update_or_create(
                name=name, defaults={"pid": os.getpid(), "started_at": started, "seen_at": timezone.now()}
            )
        except Exception:  # the database is away: try again at the next beat
            log.warning("could not record that worker %s is alive", name, exc_info=True)
        finally:
            close_old_connections()
        time.sleep(settings.SLIPWAY_HEARTBEAT_SECONDS)


@worker_shutting_down.connect
def worker_stopping(sender=None, **kwargs) -> None:
    """A worker stopping on purpose is no longer counted as alive, and its pool takes no further queued run
    (``runner.execute_in_line``): the run it is executing finishes, the next goes back to the broker."""
    with contextlib.suppress(OSError):
        workdirs.mark_stopping(Path(settings.SLIPWAY_WORKDIR), str(sender or ""))
    with contextlib.suppress(Exception):
        Worker.objects.filter(name=str(sender or "")).delete()


@beat_init.connect
def beat_started(**kwargs) -> None:
    """Beat marks dead runs itself: its scheduled reaper needs a worker to execute it, and when every worker
    is gone is exactly when runs must be shown interrupted."""
    threading.Thread(target=_reap_forever, name="slipway-reaper", daemon=True).start()


def _reap_forever() -> None:
    while True:
        try:
            runner.reap_interrupted(stale_after=settings.SLIPWAY_RUN_STALE_SECONDS)
        except Exception:  # the database is away: try again next time
            log.warning("reaping interrupted runs failed", exc_info=True)
        finally:
            close_old_connections()
        time.sleep(settings.SLIPWAY_REAPER_INTERVAL)
