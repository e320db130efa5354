"""Every Celery task of the app, imported here so a worker and the beat scheduler know them all
(Celery's autodiscovery looks for ``<app>.tasks``). The tasks live with their sub-domain."""

from .drift.tasks import execute_drift_check, schedule_drift_checks
from .environments.tasks import drive_environment_run, expire_previews, kick_environment_runs
from .estate.rollout import drive_bulk_change, kick_bulk_changes
from .notifications import deliver_webhook
from .policy.tasks import warn_expiring_exceptions
from .runs.tasks import execute_run, reap_interrupted_runs, requeue_lost_runs

__all__ = [
    "deliver_webhook",
    "drive_bulk_change",
    "drive_environment_run",
    "execute_drift_check",
    "execute_run",
    "expire_previews",
    "kick_bulk_changes",
    "kick_environment_runs",
    "reap_interrupted_runs",
    "requeue_lost_runs",
    "schedule_drift_checks",
    "warn_expiring_exceptions",
]
