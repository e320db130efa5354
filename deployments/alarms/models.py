"""A deployment's alarm webhook and the alarm notifications it received."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from portal.querysets import TeamScopedQuerySet

from ..runs.models import AppendOnly


class AlarmEndpoint(models.Model):
    """The secret of one deployment's alarm webhook: the token encrypted (the module receives it on every run)
    and its SHA-256 digest (what a request's token is compared with). Rotating it writes a new row's values."""

    deployment = models.OneToOneField("deployments.Deployment", on_delete=models.CASCADE, related_name="alarm_endpoint")
    token_encrypted = models.BinaryField(help_text="The token, Fernet-encrypted (portal.crypto).")
    token_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the token, compared in constant time.")
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"alarm webhook of {self.deployment_id}"


class AlarmStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlarmSource(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Alertmanager"
    SNS = "sns", "CloudWatch via SNS"


class AlarmEventQuerySet(TeamScopedQuerySet):
    """Alarm events are evidence: never changed, never deleted (PostgreSQL enforces it with a trigger too)."""

    team_path = "deployment__environment__project__team"

    def update(self, **kwargs):
        raise AppendOnly("Alarm events are evidence: they are never changed.")

    def delete(self):
        raise AppendOnly("Alarm events are evidence and are never deleted.")


class AlarmEvent(models.Model):
    """One alarm notification accepted for a deployment: an alarm firing or resolved, as its source said it.

    ``dedupe_key`` makes a replay visible: Alertmanager's ``fingerprint|startsAt|status`` or SNS's
    ``MessageId``; the same key twice for one deployment is refused (409) and nothing is stored."""

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="alarm_events")
    name = models.CharField(max_length=200, help_text="alertname (Alertmanager) or AlarmName (CloudWatch).")
    bundle_alarm = models.CharField(max_length=63, blank=True, help_text="The bundle's alarm it matched, if any.")
    status = models.CharField(max_length=10, choices=AlarmStatus.choices)
    severity = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=20, choices=AlarmSource.choices)
    dedupe_key = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=200, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)
    description = models.TextField(blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    notified = models.BooleanField(default=False, help_text="The owners were told (the first firing of this alarm).")

    objects = AlarmEventQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "dedupe_key"], name="alarmevent_unique_per_deployment")
        ]
        indexes = [models.Index(fields=["deployment", "name", "-received_at"], name="alarmevent_latest")]

    def __str__(self) -> str:
        return f"{self.name} {self.status} ({self.deployment_id})"

    def save(self, *args, **kwargs):
        if self.pk and not kwargs.get("force_insert"):
            raise AppendOnly("Alarm events are evidence: they are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Alarm events are evidence and are never deleted.")

    @property
    def is_firing(self) -> bool:
        return self.status == AlarmStatus.FIRING


class SnsSubscription(models.Model):
    """An SNS subscription confirmation received for a deployment's webhook: the ``SubscribeURL`` is stored and
    shown to the owner, who opens it to confirm (Slipway never fetches it: see docs/alarms.md)."""

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="sns_subscriptions")
    message_id = models.CharField(max_length=200)
    topic_arn = models.CharField(max_length=300)
    subscribe_url = models.URLField(max_length=2000)
    message = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "message_id"], name="snssubscription_unique_message")
        ]

    def __str__(self) -> str:
        return f"{self.topic_arn} ({self.deployment_id})"
