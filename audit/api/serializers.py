from rest_framework import serializers

from portal.serializers import RequestSerializer

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
    connections = serializers.JSONField(
        source="row.connections", help_text="Each connection's producer then: {connection name: deployment id}."
    )
    changes = ChangeSerializer(
        many=True,
        help_text="Key by key; a connection's change is at connections.NAME, its values the producers' names.",
    )
    run = serializers.IntegerField(source="run.pk", allow_null=True, default=None)
    run_status = serializers.CharField(source="run.status", allow_null=True, default=None)


class RestoreSerializer(RequestSerializer):
    history_id = serializers.IntegerField(help_text="The history entry whose params and connections to restore.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class DiffRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    status = serializers.CharField()
    requested_by = serializers.CharField()
    channel = serializers.CharField()
    reason = serializers.CharField()
    approval_basis = serializers.CharField()
    created_at = serializers.DateTimeField()
    applied_without_approval = serializers.BooleanField()


class DiffEntrySerializer(serializers.Serializer):
    """One deployment added, removed or changed in the window, or created and destroyed inside it (transient)."""

    deployment = serializers.UUIDField()
    name = serializers.CharField()
    where = serializers.CharField(help_text="team / project / environment")
    tier = serializers.CharField()
    team = serializers.CharField()
    bundle = serializers.CharField()
    kind = serializers.ChoiceField(choices=["added", "removed", "changed", "transient"])
    old_version = serializers.CharField()
    new_version = serializers.CharField()
    old_status = serializers.CharField()
    new_status = serializers.CharField()
    changes = ChangeSerializer(many=True)
    runs = DiffRunSerializer(many=True)
    applied_without_approval = serializers.BooleanField()


class DiffCountsSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    removed = serializers.IntegerField()
    changed = serializers.IntegerField()
    transient = serializers.IntegerField(help_text="created and destroyed inside the window")
    keys_changed = serializers.IntegerField()
    without_approval = serializers.IntegerField()


class EstateDiffSerializer(serializers.Serializer):
    """The estate diff between two times, one page of entries at a time (``limit``/``offset``)."""

    from_ = serializers.DateTimeField()
    to = serializers.DateTimeField()
    counts = DiffCountsSerializer()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DiffEntrySerializer(many=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # ``from`` is a Python keyword: declare it as from_ and publish it under its real name.
        self.fields["from"] = self.fields.pop("from_")


class AsOfRowSerializer(serializers.Serializer):
    """A deployment as it was at the requested time (its newest history row then)."""

    id = serializers.UUIDField()
    history_id = serializers.IntegerField()
    history_date = serializers.DateTimeField(help_text="When this configuration was recorded.")
    name = serializers.CharField()
    team = serializers.CharField(source="scope_team", help_text="The team then.")
    project = serializers.CharField(source="scope_project", help_text="The project then.")
    environment = serializers.CharField(source="scope_environment", help_text="The environment then.")
    tier = serializers.CharField(source="scope_tier", help_text="The environment's tier then.")
    bundle = serializers.CharField(source="bundle_version.bundle.name")
    bundle_version = serializers.CharField(source="bundle_version.version")
    status = serializers.CharField()
    version = serializers.IntegerField()
    params = serializers.JSONField()
