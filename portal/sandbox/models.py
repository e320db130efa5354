"""The sandbox cloud's store: its resources and the log of who changed them.

The sandbox is a fake cloud that Slipway reaches only through the engine and the provider, as it
would reach AWS: these tables belong to the cloud, not to Slipway, and nothing outside
``portal/sandbox`` reads them.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils import timezone

from .kinds import KINDS, Kind


class Status(models.TextChoices):
    CREATING = "creating", "Creating"
    AVAILABLE = "available", "Available"
    MODIFYING = "modifying", "Modifying"
    DELETING = "deleting", "Deleting"


# Statuses that end by themselves once ``ready_at`` has passed.
PENDING = (Status.CREATING, Status.MODIFYING, Status.DELETING)
BUSY = (Status.CREATING, Status.MODIFYING)


class Resource(models.Model):
    """One resource in the sandbox cloud.

    ``attributes`` holds what a client configures (the kind's fields, defaults filled in);
    ``computed`` what the cloud derived at creation (endpoints, ports); write-only secrets are kept
    only as digests in ``secret_digests``. A pending operation ends at ``ready_at``: reads settle it
    (see ``selectors.settle``), so no background job is needed.
    """

    id = models.CharField(primary_key=True, max_length=40, editable=False)
    kind = models.CharField(max_length=20, choices=[(k.name, k.title) for k in KINDS.values()])
    name = models.CharField(max_length=63)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CREATING)
    attributes = models.JSONField(default=dict)
    computed = models.JSONField(default=dict)
    secret_digests = models.JSONField(default=dict, help_text="SHA-256 of each write-only value, never the value.")
    tags = models.JSONField(default=dict)
    # Simulated utilisation (issue 17: set from the console or the API; alarms watch it).
    metrics = models.JSONField(default=dict)
    # Write-only values the cloud itself uses (an alarm's webhook URL): never returned by the API or console.
    sealed = models.JSONField(default=dict, blank=True)
    # An alarm's evaluation: {"state": ok|pending|firing, "since", "starts_at", "value", "fingerprint"}.
    alarm_state = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change.")
    ready_at = models.DateTimeField(null=True, blank=True, help_text="When the pending operation completes.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="sandbox_resource_unique_name")]
        indexes = [models.Index(fields=["status", "ready_at"], name="sandbox_res_pending")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.id})"

    def get_absolute_url(self) -> str:
        return reverse("sandbox:resource", args=[self.id])

    @property
    def spec(self) -> Kind:
        return KINDS[self.kind]

    @property
    def is_busy(self) -> bool:
        return self.status in BUSY

    def ready_in_seconds(self, now=None) -> float:
        if self.ready_at is None:
            return 0.0
        return max(0.0, (self.ready_at - (now or timezone.now())).total_seconds())


class Event(models.Model):
    """What happened to a resource, by whom and through which door: the cloud's own audit trail.

    Keeps the resource's id and name as text so the record outlives the resource.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Modified"
        DELETE = "delete", "Deleted"

    resource_id = models.CharField(max_length=40, db_index=True)
    kind = models.CharField(max_length=20)
    name = models.CharField(max_length=63)
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.CharField(max_length=200, help_text="'console: <user>' or 'api: <client>'.")
    changes = models.JSONField(default=dict, help_text="attribute -> [before, after]; secrets as '(changed)'.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.kind} {self.name} by {self.actor}"


class Delivery(models.Model):
    """One webhook notification an alarm sent (or tried to): the cloud's delivery log, shown on the alarm's page.

    Keeps the alarm's id as text (the record outlives the alarm) and the payload sent; never the URL, which
    holds the receiver's token."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    alarm_id = models.CharField(max_length=40, db_index=True)
    alarm_name = models.CharField(max_length=63)
    alert_status = models.CharField(max_length=10, help_text="firing or resolved")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_text = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.alert_status} {self.alarm_name} ({self.status})"
