"""Audit events: facts that are not row edits (row edits live in simple-history tables)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.actor import Channel
from portal.history import ScopeColumns
from portal.querysets import TeamScopedQuerySet

__all__ = ["AuditEvent", "Channel", "DeploymentSpan"]


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


class DeploymentSpan(models.Model):
    """When each deployment history row was the deployment's state: from its ``history_date`` until the
    next row's (``infinity`` while it is the newest). A side table, because the history table is
    append-only; on PostgreSQL a statement trigger on insert into the history table keeps it
    (migration 0008), so "the estate at T" is an index probe, not a ``DISTINCT ON`` over every row
    up to T. The columns the as-of page filters and sorts by are copied from the row (history rows never
    change). Read only as filters: ``valid_until`` may be ``infinity``, which Python cannot represent.
    Elsewhere (SQLite) the table stays empty and the selectors read the history table."""

    history = models.OneToOneField(
        "deployments.HistoricalDeployment",
        primary_key=True,
        db_column="history_id",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="span",
    )
    deployment_id = models.UUIDField()
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    gone = models.BooleanField()  # history_type "-": the deployment was deleted
    status = models.CharField(max_length=20)
    name = models.CharField(max_length=60)
    bundle_version_id = models.BigIntegerField(null=True)
    scope_team = models.CharField(max_length=60)
    scope_project = models.CharField(max_length=60)
    scope_environment = models.CharField(max_length=60)
    scope_tier = models.CharField(max_length=20)

    class Meta:
        indexes = [
            # The trigger's probe: one deployment's spans from a time on. On PostgreSQL the as-of probe
            # is an SP-GiST index on the generated column ``period`` (migration 0008).
            models.Index(fields=["deployment_id", "valid_until"], name="audit_span_deployment_until"),
        ]

    def __str__(self) -> str:
        return f"history row {self.pk} of deployment {self.deployment_id} from {self.valid_from:%Y-%m-%d %H:%M:%S}"
