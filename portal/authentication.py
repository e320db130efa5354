"""``Authorization: Token <key>`` authentication against hashed API tokens, behind the sign-in throttle."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.utils import timezone
from rest_framework import authentication, exceptions

from . import throttle
from .models import APIToken


class TokenLockedOut(exceptions.Throttled):
    """429 with the throttle's own sentence (DRF's Throttled would append its own)."""

    def __init__(self):
        exceptions.APIException.__init__(self, throttle.lockout_message())
        self.wait = settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS


class APITokenAuthentication(authentication.TokenAuthentication):
    """A token is an account for the throttle, named by its public prefix (the hint the owner sees).

    A wrong key with the prefix of a real token counts against that token and the caller's address,
    as a wrong password counts against a username (see :mod:`portal.throttle`); a made-up key counts
    against nothing real, since 256 random bits cannot be guessed.
    """

    keyword = "Token"

    def authenticate(self, request):
        self._request = request._request  # the throttle reads the address from Django's request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        request = self._request
        credentials = {"api_token_hint": key[: APIToken.HINT_LENGTH]}
        if throttle.locked(request, credentials):
            raise TokenLockedOut()
        token = (
            APIToken.objects.select_related("user")
            .filter(key_hash=APIToken.hash_key(key), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            user_login_failed.send(sender=type(self), credentials=credentials, request=request)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        # Writing on every request would make each API call a write; a minute is precise enough.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
