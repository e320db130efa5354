"""What /healthz and `manage.py doctor` ask of the services Slipway depends on."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def database_problem() -> str:
    """ "" when the database answers, else what went wrong, in one line."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "down" here
        return f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return ""


def broker_problem(timeout: float = 2.0) -> str:
    """ "" when the Celery broker accepts a connection, else what went wrong, in one line."""
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        else:
            from portal.celery import app

            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:  # any transport error means "down" here
        return f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return ""
