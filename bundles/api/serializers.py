from rest_framework import serializers

from ..models import Bundle, BundleVersion


class BundleVersionSerializer(serializers.ModelSerializer):
    bundle = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = BundleVersion
        fields = [
            "bundle",
            "version",
            "params_schema",
            "ui_schema",
            "presets",
            "connections",
            "artifacts",
            "runbook",
            "changelog",
            "module_sha256",
            "published_at",
        ]


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
