"""Celery application. Tasks live in each app's ``tasks.py``."""

import os
import sys

from celery import Celery
from celery.signals import worker_init

from . import broker  # noqa: F401  (registers the embedded broker's transport before any connection)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("slipway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_to_start_on_a_wrong_key(**kwargs) -> None:
    """A worker with the wrong encryption key would fail every run it takes: do not start at all."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    django.setup()
    from portal.checks import refuse_to_start

    try:
        refuse_to_start(web=False)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"Slipway worker refuses to start: {exc}\n")
        raise SystemExit(1) from None  # not an Exception: Celery's signal dispatch does not swallow it
