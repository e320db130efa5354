"""Slipway's own start-up checks (Django system checks), and the refusals web and worker share.

``manage.py check`` (and ``migrate``, ``runserver``) report them; gunicorn (``portal.wsgi``) and the
Celery worker (``portal.celery``) refuse to start on the same errors. ``manage.py doctor`` adds the
questions that need the network or the file system (see :mod:`portal.doctor`).
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from . import crypto


@register()
def encryption_key_reads_stored_data(app_configs=None, **kwargs) -> list[Error]:
    problems = crypto.key_problems()
    if not problems:
        return []
    return [
        Error(
            crypto.KEY_MISMATCH,
            hint=f"Values that did not decrypt: {', '.join(problems)}.",
            id="slipway.E001",
        )
    ]


def static_files_missing() -> str:
    """With DEBUG off pages are served with hashed static names from STATIC_ROOT: without them, every page fails."""
    if settings.DEBUG:
        return ""
    manifest = settings.STATIC_ROOT / "staticfiles.json"
    if manifest.exists():
        return ""
    return (
        f"Static files are not collected: {manifest} does not exist, and with DEBUG off every page would fail. "
        "Run `python manage.py collectstatic --noinput` (the Docker image does it when it is built)."
    )


def refuse_to_start(*, web: bool) -> None:
    """Raise ImproperlyConfigured, with the sentence to act on, when this process must not serve."""
    problems = crypto.key_problems()
    if problems:
        raise ImproperlyConfigured(f"{crypto.KEY_MISMATCH} (Values that did not decrypt: {', '.join(problems)}.)")
    missing = static_files_missing() if web else ""
    if missing:
        raise ImproperlyConfigured(missing)
