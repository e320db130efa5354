"""``Authorization: Token <key>`` authentication against hashed API tokens."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import APIToken


class APITokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str):
        token = (
            APIToken.objects.select_related("user")
            .filter(key_hash=APIToken.hash_key(key), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        # Writing on every request would make each API call a write; a minute is precise enough.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
