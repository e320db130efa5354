"""The sign-in throttle: one policy for every door, on django-axes' database store.

django-axes records each failed ``authenticate()`` (the site's sign-in, ``/admin/login/``, anything
else that authenticates a password) and refuses the next attempt through its backend, first in
``AUTHENTICATION_BACKENDS``. API tokens never call ``authenticate()``, so
:mod:`portal.authentication` reports their failures and asks :func:`locked` itself.

The counts live in the database (axes' ``AccessAttempt`` rows), never in Redis, so signing in keeps
working while the broker is down.

The policy, decided by :class:`SlipwayAxesHandler`:

- **An account** (a username, or an API token identified by its public prefix) is locked after
  ``SLIPWAY_LOGIN_ATTEMPTS`` failures from anywhere within ``SLIPWAY_LOGIN_LOCKOUT_SECONDS``.
- **An address** is locked only once it has failed against ``SLIPWAY_LOGIN_ADDRESS_ACCOUNTS``
  different *real* accounts in that window (password spraying). A made-up username or token cannot be
  broken into, so failures against one count against nothing else: people behind a shared address (a
  proxy, an office NAT) are not locked out because someone there mistypes or invents names.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.db.models.functions import Lower
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils import timezone

# Token accounts are kept apart from usernames: a username key is lower-cased, so it never starts
# with these capitals and a space.
TOKEN_ACCOUNT = "TOKEN "


def _clean(text: str) -> str:
    """A key the database can store whatever was typed: no NUL, no lone surrogates, bounded."""
    return text.replace("\x00", "").encode("utf-8", "backslashreplace").decode("utf-8")[:150]


def client_address(request: HttpRequest) -> str:
    """The client's address (``AXES_CLIENT_IP_CALLABLE``).

    ``REMOTE_ADDR``, unless the operator says ``SLIPWAY_PROXY_COUNT`` proxies stand in front: each
    appends the address it saw to ``X-Forwarded-For``, so the client is the entry that many from the
    right. Anything further left was written by the client and is not believed.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.SLIPWAY_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:  # a proxy that writes something else is misconfigured: fall back to who connected
        return remote


def account_key(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """What one account is called in the throttle (``AXES_USERNAME_CALLABLE``)."""
    credentials = credentials or {}
    if credentials.get("api_token_hint"):
        return TOKEN_ACCOUNT + _clean(str(credentials["api_token_hint"]))
    username = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username")
    if username is None and request is not None:
        username = request.POST.get("username") if request.method == "POST" else None
    if username is None:
        return None
    return _clean(str(username).strip().lower())


def _real_accounts(keys: set[str]) -> int:
    """How many of these throttle keys name an account that exists (made-up ones do not count)."""
    from portal.models import APIToken  # app loading: axes imports this module before models are ready

    hints = {k[len(TOKEN_ACCOUNT) :] for k in keys if k.startswith(TOKEN_ACCOUNT)}
    names = {k for k in keys if not k.startswith(TOKEN_ACCOUNT)}
    users = get_user_model().objects.annotate(key=Lower("username")).filter(key__in=names).count() if names else 0
    tokens = APIToken.objects.filter(key_hint__in=hints, revoked_at__isnull=True).count() if hints else 0
    return users + tokens


def _window_start():
    return timezone.now() - timedelta(seconds=settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS)


def lock_reason(address: str, account: str | None) -> str:
    """Why an attempt for ``account`` from ``address`` is refused now, or "" when it may go ahead."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=_window_start())
    if account:
        failures = recent.filter(username=account).aggregate(n=Sum("failures_since_start"))["n"] or 0
        if failures >= settings.SLIPWAY_LOGIN_ATTEMPTS:
            return "account"
    if address:
        tried = set(recent.filter(ip_address=address).values_list("username", flat=True).distinct()[:1000])
        tried.discard(None)
        if len(tried) >= settings.SLIPWAY_LOGIN_ADDRESS_ACCOUNTS and (
            _real_accounts(tried) >= settings.SLIPWAY_LOGIN_ADDRESS_ACCOUNTS
        ):
            return "address"
    return ""


def locked(request: HttpRequest, credentials: dict) -> bool:
    """Whether this request's address or this account is locked out (for doors outside authenticate())."""
    return bool(lock_reason(client_address(request), account_key(request, credentials)))


class SlipwayAxesHandler(AxesDatabaseHandler):
    """django-axes' database handler with Slipway's per-account and per-address policy (module doc)."""

    def is_locked(self, request, credentials=None) -> bool:
        return bool(lock_reason(request.axes_ip_address, account_key(request, credentials)))

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        # axes flags the request by its own single limit; ours has two rules, so flag it here too.
        if request is not None and self.is_locked(request, credentials):
            request.axes_locked_out = True
            request.axes_credentials = credentials


def lockout_message() -> str:
    minutes = max(1, round(settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS / 60))
    return f"Too many failed sign-ins. Try again in {minutes} minute{'' if minutes == 1 else 's'}."


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None):
    """What a locked-out attempt gets (``AXES_LOCKOUT_CALLABLE``): the sign-in page, or JSON for the API."""
    message = lockout_message()
    retry_after = str(settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS)
    if request.path.startswith("/api/"):
        response = JsonResponse({"message": message, "errors": {}}, status=429)
    else:
        from django.contrib.auth.forms import AuthenticationForm

        form = AuthenticationForm(request, initial={"username": (credentials or {}).get("username", "")})
        context = {"form": form, "lockout": message, "next": request.POST.get("next", "")}
        response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = retry_after
    return response
