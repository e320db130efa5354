"""Teams, memberships and API tokens."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from .history import Scope, tracked_history


class Team(models.Model):
    """A group of developers that owns projects."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    history = tracked_history()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def history_scope(self) -> Scope:
        return Scope(team_id=self.pk, team=self.slug)


class Membership(models.Model):
    """A user's role in one team."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEAD = "lead", "Team lead"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)
    history = tracked_history()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.get_role_display()})"

    def history_scope(self) -> Scope:
        return self.team.history_scope()


class APIToken(models.Model):
    """A named API token. Only its SHA-256 is stored; the key is shown once at creation."""

    PREFIX = "slw_"
    HINT_LENGTH = 10  # the public part: shown to the owner, and what the sign-in throttle calls the token

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_hint = models.CharField(max_length=12, editable=False, help_text="The first characters, to recognise it.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, *, user, name: str) -> tuple["APIToken", str]:
        """Create a token and return it with its plaintext key (never stored)."""
        key = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=cls.hash_key(key), key_hint=key[: cls.HINT_LENGTH])
        return token, key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` for one endpoint, and the response its first request got.

    A retry with the same key (same user, same endpoint) replays the stored response instead of
    acting again. The unique constraint is what makes two concurrent duplicates safe: the second
    insert waits for the first request's transaction and then finds its row.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=300, help_text="Method and path, e.g. POST /api/v1/deployments/.")
    fingerprint = models.CharField(
        max_length=64,
        help_text="HMAC-SHA-256, keyed with SECRET_KEY, of the request's body (and query string), to refuse a reused "
        "key; keyed, so that a body holding a secret cannot be guessed back from it.",
    )
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint", "key"], name="idempotency_unique_user_endpoint_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} for {self.endpoint}"
