"""Celery application. Tasks live in each app's ``tasks.py``."""

import os

from celery import Celery

from . import broker  # noqa: F401  (registers the embedded broker's transport before any connection)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("slipway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
