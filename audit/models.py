"""Audit events: facts that are not row edits (row edits live in simple-history tables)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.actor import Channel
from portal.history import ScopeColumns
from portal.querysets import TeamScopedQuerySet

__all__ = ["AuditEvent", "Channel"]


class AuditEventQuerySet(TeamScopedQuerySet):
    """Reviewers and ops see every event; others the events of the deployments they can see."""

    team_path = "deployment__environment__project__team"


class AuditEvent(ScopeColumns):
    """An append-only record of something that happened, with who did it and through which door, and
    where its subject stood then (team, project, environment, tier: the scope columns)."""

    event_type = models.CharField(max_length=60, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text so the record still reads correctly after the user is deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    # The deployment the fact is about, when there is one: lets reviewers filter events by team,
    # project, tier and bundle. No database constraint: events outlive what they describe.
    deployment = models.ForeignKey(
        "deployments.Deployment",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.SYSTEM)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.event_type} by {self.actor_name or 'system'}"
