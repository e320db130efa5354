from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Bundle, BundleVersion, ResourceType
from ..schema import describe_inputs


class ChoiceSerializer(serializers.Serializer):
    value = serializers.JSONField()
    label = serializers.CharField(help_text="The label the form shows; empty when it is the value itself.")


class InputSerializer(serializers.Serializer):
    """One param, described in words (what ``slipway bundles show`` prints)."""

    path = serializers.CharField(help_text="Dotted, with [] for the items of a list: storage.size_gb, rules[].port.")
    depth = serializers.IntegerField()
    type = serializers.CharField()
    required = serializers.BooleanField()
    immutable = serializers.BooleanField()
    sensitive = serializers.BooleanField()
    title = serializers.CharField()
    constraints = serializers.ListField(child=serializers.CharField(), help_text='e.g. ">= 1", "unit days".')
    choices = ChoiceSerializer(many=True)
    description = serializers.CharField()


class BundleVersionSerializer(serializers.ModelSerializer):
    bundle = serializers.SlugRelatedField(slug_field="name", read_only=True)
    inputs = serializers.SerializerMethodField(help_text="The params schema described in words, param by param.")

    class Meta:
        model = BundleVersion
        fields = ["bundle", "version", "params_schema", "inputs", *BundleVersion.PUBLISHED, "published_at"]

    @extend_schema_field(InputSerializer(many=True))
    def get_inputs(self, version: BundleVersion) -> list[dict]:
        return describe_inputs(version.params_schema or {})


class BundleSerializer(serializers.ModelSerializer):
    latest_version = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Bundle
        fields = ["name", "title", "description", "category", "owner", "latest_version", "versions", "updated_at"]

    def get_latest_version(self, bundle: Bundle) -> str | None:
        latest = bundle.latest_version()
        return latest.version if latest else None

    def get_versions(self, bundle: Bundle) -> list[str]:
        return [v.version for v in bundle.versions.all()]


class BundleDetailSerializer(BundleSerializer):
    latest = serializers.SerializerMethodField()

    class Meta(BundleSerializer.Meta):
        fields = [*BundleSerializer.Meta.fields, "latest"]

    def get_latest(self, bundle: Bundle) -> dict | None:
        latest = bundle.latest_version()
        return BundleVersionSerializer(latest).data if latest else None


class ResourceTypeSerializer(serializers.ModelSerializer):
    """The newest published version of a resource type: the typed payload a connection carries."""

    versions = serializers.SerializerMethodField(help_text="Every published version, newest first.")

    class Meta:
        model = ResourceType
        fields = [
            "name",
            "version",
            "versions",
            "title",
            "description",
            "icon",
            "specs_schema",
            "data_schema",
            "sha256",
            "published_at",
        ]

    def get_versions(self, kind: ResourceType) -> list[str]:
        return list(ResourceType.objects.filter(name=kind.name).values_list("version", flat=True))
