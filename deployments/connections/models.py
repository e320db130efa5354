"""Artifacts: the typed payloads a deployment publishes after each successful apply, versioned."""

from __future__ import annotations

import json

from django.db import models
from django.utils import timezone

from portal.crypto import decrypt


class Artifact(models.Model):
    """One version of one artifact of a deployment (``serial`` counts from 1 per artifact name).

    ``specs`` are plain and searchable; ``data`` is encrypted (it may hold passwords). A new row is
    written only when the payload changed, so a serial is a version consumers can tell apart.
    Append-only: rows are never edited.
    """

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.PROTECT, related_name="artifacts")
    name = models.CharField(max_length=60, help_text="The artifact's name in the bundle version.")
    type = models.CharField(max_length=52, db_index=True, help_text="The resource type it is of.")
    type_version = models.CharField(max_length=64)
    serial = models.PositiveIntegerField()
    specs = models.JSONField(default=dict, blank=True)
    data = models.BinaryField(null=True, blank=True, editable=False, help_text="Encrypted JSON.")
    digest = models.CharField(max_length=64, editable=False, help_text="Keyed digest of the whole payload.")
    created_by_run = models.ForeignKey(
        "deployments.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="artifacts_published"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deployment", "name", "-serial"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "name", "serial"], name="artifact_unique_serial"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name} v{self.serial} of {self.deployment_id}"

    def payload(self) -> dict:
        """The whole payload with ``data`` decrypted: only for a run's work directory."""
        return {"specs": self.specs, "data": json.loads(decrypt(bytes(self.data))) if self.data else {}}
