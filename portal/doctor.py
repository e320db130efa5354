"""``manage.py doctor``: Slipway's own deploy check, in words an operator can act on.

Each check returns findings ``(level, text)``: ``error`` (this breaks something: runs, pages,
secrets), ``warning`` (works, but probably not as intended) or ``ok``. Run it on the web host and on a
worker host: it also asks what that host can reach (the state backend at SLIPWAY_BASE_URL, the broker,
the mail server).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings

from . import checks, crypto, health

Finding = tuple[str, str]
ERROR, WARNING, OK = "error", "warning", "ok"


def _redirected(path: str, url: str) -> bool:
    """Whether Django's SecurityMiddleware would send a request for ``path`` at ``url`` to https."""
    from django.middleware.security import SecurityMiddleware
    from django.test import RequestFactory

    parts = urlsplit(url)
    request = RequestFactory().get(path, secure=parts.scheme == "https", HTTP_HOST=parts.netloc or "localhost")
    return SecurityMiddleware(lambda r: None).process_request(request) is not None


def check_tls() -> list[Finding]:
    out: list[Finding] = []
    base, public = settings.SLIPWAY_BASE_URL, settings.SLIPWAY_PUBLIC_URL
    for path, what in ((f"/state/{uuid.uuid4()}/", "the state backend"), ("/healthz", "the health check")):
        if _redirected(path, base):
            out.append(
                (
                    ERROR,
                    f"Requests to {what} at {base} would be redirected to https (SECURE_SSL_REDIRECT): every run "
                    "would fail at `init`. Keep /state/ and /healthz in SECURE_REDIRECT_EXEMPT, or give workers "
                    "an https SLIPWAY_BASE_URL.",
                )
            )
    if not settings.DEBUG and "SLIPWAY_TLS" not in os.environ:
        out.append(
            (
                WARNING,
                f"SLIPWAY_TLS is not set, so it is assumed `{settings.SLIPWAY_TLS}`. Say where TLS ends: off "
                "(plain HTTP on a private network), proxy (a TLS proxy in front) or on.",
            )
        )
    if settings.SLIPWAY_TLS == "off" and public.startswith("https://"):
        out.append(
            (
                WARNING,
                f"SLIPWAY_PUBLIC_URL is https ({public}) but SLIPWAY_TLS=off: cookies are not marked secure and "
                "X-Forwarded-Proto is not trusted. Behind a TLS proxy set SLIPWAY_TLS=proxy.",
            )
        )
    if settings.SLIPWAY_TLS != "off" and public.startswith("http://") and settings.SECURE_SSL_REDIRECT:
        out.append(
            (
                ERROR,
                f"SLIPWAY_TLS={settings.SLIPWAY_TLS} redirects people to https, but SLIPWAY_PUBLIC_URL is plain "
                f"http ({public}). For plain HTTP on a private network set SLIPWAY_TLS=off.",
            )
        )
    if settings.SLIPWAY_TLS == "off" and not settings.DEBUG:
        out.append((OK, "TLS is off: plain HTTP, no secure-only cookies, no HSTS (fine on a private network only)."))
    return out or [(OK, f"SLIPWAY_TLS={settings.SLIPWAY_TLS}; the state backend and /healthz are not redirected.")]


def check_hosts() -> list[Finding]:
    from django.http.request import validate_host

    out: list[Finding] = []
    urls = ((settings.SLIPWAY_BASE_URL, "workers (SLIPWAY_BASE_URL)"), (settings.SLIPWAY_PUBLIC_URL, "people"))
    for url, who in urls:
        host = urlsplit(url).hostname or ""
        if not validate_host(host, settings.ALLOWED_HOSTS):
            out.append((ERROR, f"ALLOWED_HOSTS does not allow {host!r}, the host {who} use: their requests get 400."))
    return out or [(OK, f"ALLOWED_HOSTS allows the workers' and the public host: {', '.join(settings.ALLOWED_HOSTS)}")]


def check_base_url_reachable() -> list[Finding]:
    import requests

    url = settings.SLIPWAY_BASE_URL.rstrip("/") + "/healthz"
    try:
        response = requests.get(url, timeout=3, allow_redirects=False)
    except requests.RequestException as exc:
        return [
            (
                WARNING,
                f"Could not reach {url} from this host ({type(exc).__name__}). Workers call the state backend "
                "there: run doctor on a worker host, or check that the web server runs.",
            )
        ]
    if response.is_redirect:
        return [
            (
                ERROR,
                f"{url} answers with a redirect to {response.headers.get('Location')}: something in front of "
                "Slipway redirects the workers' state-backend calls, so every run would fail at `init`.",
            )
        ]
    if response.status_code == 400:
        return [(ERROR, f"{url} answers 400: the web server does not allow that host name (ALLOWED_HOSTS there).")]
    return [(OK, f"The state backend's server answers at {settings.SLIPWAY_BASE_URL} ({response.status_code}).")]


def check_static() -> list[Finding]:
    missing = checks.static_files_missing()
    return [(ERROR, missing)] if missing else [(OK, "Static files are collected (or DEBUG serves them).")]


def check_public_url() -> list[Finding]:
    if not os.environ.get("SLIPWAY_PUBLIC_URL"):
        return [
            (
                WARNING,
                f"No public URL: SLIPWAY_PUBLIC_URL is unset, so links in notifications point at "
                f"{settings.SLIPWAY_BASE_URL}, the workers' address, which people may not be able to open.",
            )
        ]
    return [(OK, f"Links in notifications point at {settings.SLIPWAY_PUBLIC_URL}.")]


def check_email() -> list[Finding]:
    backend = settings.EMAIL_BACKEND
    if not backend.endswith("smtp.EmailBackend"):
        return [(WARNING if not settings.DEBUG else OK, f"Email is not sent: EMAIL_BACKEND is {backend}.")]
    host, port = settings.EMAIL_HOST, settings.EMAIL_PORT
    out: list[Finding] = []
    if "EMAIL_HOST" not in os.environ:
        out.append(
            (
                WARNING,
                f"Email goes to {host}:{port} (EMAIL_HOST is unset): notifications fail unless a mail server "
                "listens there. Set EMAIL_HOST, EMAIL_PORT and the rest (README, Production).",
            )
        )
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        out.append((ERROR, f"Cannot reach the mail server {host}:{port} ({exc}): every notification email fails."))
    return out or [(OK, f"The mail server {host}:{port} accepts connections.")]


def check_keys() -> list[Finding]:
    from cryptography.fernet import Fernet

    for number, key in enumerate(k.strip() for k in settings.SLIPWAY_ENCRYPTION_KEY.split(",") if k.strip()):
        try:
            Fernet(key.encode())
        except ValueError:
            return [(ERROR, f"Key {number + 1} of SLIPWAY_ENCRYPTION_KEY is not a Fernet key (32 bytes, base64).")]
    problems = crypto.key_problems()
    if problems:
        return [(ERROR, f"{crypto.KEY_MISMATCH} (Did not decrypt: {', '.join(problems)}.)")]
    extra = settings.SLIPWAY_ENCRYPTION_KEY.count(",")
    if extra:
        return [
            (
                OK,
                f"The encryption key reads the stored data; {extra} older key(s) are still listed. After "
                "`manage.py rotate_encryption_key` they can be removed.",
            )
        ]
    return [(OK, "The encryption key reads the stored data.")]


def check_database() -> list[Finding]:
    problem = health.database_problem()
    if problem:
        return [(ERROR, f"The database does not answer: {problem}")]
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    pending = MigrationExecutor(connection).migration_plan(MigrationExecutor(connection).loader.graph.leaf_nodes())
    if pending:
        return [(ERROR, f"{len(pending)} database migrations are not applied: run `python manage.py migrate`.")]
    return [(OK, "The database answers and is migrated.")]


def check_broker() -> list[Finding]:
    problem = health.broker_problem()
    if not problem:
        return [(OK, "The broker answers.")]
    where = settings.CELERY_BROKER_URL.split("@")[-1]  # never the password
    message = f"The broker ({where}) does not answer: {problem}. New runs wait in the database and go once it is back."
    return [(ERROR, message)]


def check_engine() -> list[Finding]:
    binary = settings.SLIPWAY_TOFU_BINARY
    if not binary or not (os.path.isfile(binary) or _which(binary)):
        return [
            (
                WARNING,
                "No engine binary (tofu or terraform) here: workers on this host cannot run anything. Set "
                "SLIPWAY_TOFU_BINARY or install OpenTofu (fine on a web-only host).",
            )
        ]
    return [(OK, f"The engine is {binary}.")]


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


CHECKS: list[tuple[str, Callable[[], list[Finding]]]] = [
    ("database", check_database),
    ("encryption key", check_keys),
    ("broker", check_broker),
    ("TLS", check_tls),
    ("allowed hosts", check_hosts),
    ("state backend", check_base_url_reachable),
    ("static files", check_static),
    ("public URL", check_public_url),
    ("email", check_email),
    ("engine", check_engine),
]


def run() -> list[tuple[str, str, str]]:
    """Every finding as (check, level, text). A check that crashes is itself an error finding."""
    findings = []
    for name, check in CHECKS:
        try:
            results = check()
        except Exception as exc:  # the doctor must report, not die
            results = [(ERROR, f"could not check: {type(exc).__name__}: {exc}")]
        findings += [(name, level, text) for level, text in results]
    return findings
