from rest_framework import serializers

from ..models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "event_type",
            "actor_name",
            "channel",
            "request_id",
            "target_type",
            "target_id",
            "deployment",
            "data",
        ]


class ChangeSerializer(serializers.Serializer):
    path = serializers.CharField()
    kind = serializers.ChoiceField(choices=["added", "removed", "changed"])
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryStepSerializer(serializers.Serializer):
    """One version of a deployment and what changed since the one before."""

    history_id = serializers.IntegerField(source="row.history_id")
    at = serializers.DateTimeField(source="row.history_date")
    kind = serializers.CharField()
    actor = serializers.CharField()
    channel = serializers.CharField(source="reason.channel")
    request_id = serializers.CharField(source="reason.request_id")
    note = serializers.CharField(source="reason.note")
    approval_basis = serializers.CharField()
    status = serializers.CharField(source="row.status")
    version = serializers.IntegerField(source="row.version")
    bundle_version = serializers.CharField(source="row.bundle_version")
    params = serializers.JSONField(source="row.params")
    changes = ChangeSerializer(many=True)
    run = serializers.IntegerField(source="run.pk", allow_null=True, default=None)
    run_status = serializers.CharField(source="run.status", allow_null=True, default=None)


class RestoreSerializer(serializers.Serializer):
    history_id = serializers.IntegerField(help_text="The history entry whose params to restore.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
