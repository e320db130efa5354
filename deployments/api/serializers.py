from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bundles.models import Bundle
from bundles.schema import starting_params
from portal.serializers import RequestSerializer

from .. import secrets
from ..environments.previews_api import PreviewSerializer
from ..environments.selectors import preview_rows
from ..models import Deployment, Environment, Project
from ..names import NAME_HELP, validate_name
from ..runs.api import RunSerializer


class ProjectSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "slug", "name", "team", "description"]


class EnvironmentSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    preview = serializers.SerializerMethodField(
        help_text="A preview environment's source, owner, age, expiry and monthly cost; null for any other."
    )

    class Meta:
        model = Environment
        fields = ["id", "project", "slug", "name", "tier", "is_preview", "preview"]

    @extend_schema_field(PreviewSerializer(allow_null=True))
    def get_preview(self, environment: Environment) -> dict | None:
        if not environment.is_preview:
            return None
        (row,) = preview_rows(Environment.objects.filter(pk=environment.pk))
        return PreviewSerializer(row).data


class DeploymentSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="environment.project.slug", read_only=True)
    environment = serializers.CharField(source="environment.slug", read_only=True)
    tier = serializers.CharField(source="environment.tier", read_only=True)
    team = serializers.CharField(source="environment.project.team.slug", read_only=True)
    bundle = serializers.CharField(source="bundle_version.bundle.name", read_only=True)
    bundle_version = serializers.CharField(source="bundle_version.version", read_only=True)
    latest_run = serializers.SerializerMethodField()
    params = serializers.JSONField(read_only=True, help_text=f"The desired configuration. {secrets.RULE}")

    class Meta:
        model = Deployment
        fields = [
            "id",
            "name",
            "project",
            "environment",
            "tier",
            "team",
            "bundle",
            "bundle_version",
            "params",
            "connections",
            "outputs",
            "status",
            "version",
            "monthly_cost",
            "cost_currency",
            "latest_run",
            "created_at",
            "updated_at",
        ]

    def get_latest_run(self, deployment: Deployment) -> int | None:
        if hasattr(deployment, "newest_run_id"):  # annotated by the list's queryset
            return deployment.newest_run_id
        run = deployment.runs.order_by("-created_at", "-id").values_list("pk", flat=True).first()
        return run


class BundleNameField(serializers.SlugRelatedField):
    """A bundle by name; a name PostgreSQL cannot even compare (a NUL character) is simply no bundle."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\0"))
        return super().to_internal_value(data)


class DeploymentCreateSerializer(RequestSerializer):
    """Create a deployment in an environment from a bundle version and params (or a preset)."""

    environment = serializers.PrimaryKeyRelatedField(queryset=Environment.objects.none())
    name = serializers.CharField(validators=[validate_name], help_text=NAME_HELP)
    bundle = BundleNameField(slug_field="name", queryset=Bundle.objects.all())
    version = serializers.CharField(required=False, help_text="Defaults to the newest version.")
    preset = serializers.CharField(required=False, help_text="Start from this preset; params override it.")
    params = serializers.JSONField(
        required=False, default=dict, help_text=f"The params, valid for the bundle's schema. {secrets.RULE}"
    )
    connections = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="The producer of each connection, by deployment id or name: {connection: producer}. A connection "
        "left out takes the environment's default when the bundle says so.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    auto_apply = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Apply as soon as the plan is ready unless it replaces or destroys something; "
        "false stops at the plan for review.",
    )

    def __init__(self, *args, environments=None, **kwargs):
        super().__init__(*args, **kwargs)
        if environments is not None:
            self.fields["environment"].queryset = environments

    def validate(self, attrs):
        bundle = attrs["bundle"]
        version = (
            bundle.versions.filter(version=attrs["version"]).first() if "version" in attrs else bundle.latest_version()
        )
        if version is None:
            raise serializers.ValidationError({"version": f"{bundle.name} has no version {attrs.get('version')!r}."})
        params = attrs.get("params") or {}
        if not isinstance(params, dict):
            raise serializers.ValidationError({"params": "Must be a JSON object."})
        preset = None
        if attrs.get("preset"):
            preset = version.preset(attrs["preset"])
            if preset is None:
                names = ", ".join(p.get("name", "") for p in version.presets) or "none"
                raise serializers.ValidationError({"preset": f"No preset {attrs['preset']!r}. Presets: {names}."})
        attrs["bundle_version"] = version
        # The same rule as the form's: defaults, the preset over them, the params over that.
        attrs["params"] = starting_params(version.params_schema, preset, params)
        return attrs


class DeploymentCreatedSerializer(DeploymentSerializer):
    run = serializers.SerializerMethodField()

    class Meta(DeploymentSerializer.Meta):
        fields = [*DeploymentSerializer.Meta.fields, "run"]

    def get_run(self, deployment: Deployment) -> dict:
        return RunSerializer(deployment.runs.order_by("-created_at", "-id").first()).data


class DeploymentActionSerializer(RequestSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class DeploymentApplySerializer(DeploymentActionSerializer):
    params = serializers.JSONField(
        required=False,
        help_text=f"The new params, the whole configuration; leave out to apply the current ones again. {secrets.RULE}",
    )
    connections = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="New producers for some connections ({connection: deployment id or name; empty to disconnect an "
        "optional one}); connections left out keep theirs.",
    )
    auto_apply = serializers.BooleanField(required=False, default=True)
    expected_version = serializers.IntegerField(
        required=False, help_text="The configuration version you edited; refused if someone changed it since."
    )

    def validate_params(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class DeploymentDestroySerializer(DeploymentActionSerializer):
    confirm = serializers.CharField(help_text="The deployment's name, to confirm.")


class ForceUnlockSerializer(RequestSerializer):
    reason = serializers.CharField(max_length=500, help_text="Why it is safe to release the lock (audited).")


class ForceUnlockedSerializer(serializers.Serializer):
    lock_id = serializers.CharField()
    info = serializers.JSONField(help_text="What the engine recorded when it took the lock.")
    run = serializers.IntegerField(allow_null=True, help_text="The run that held the lock, if known.")
    reason = serializers.CharField()


class RevealedOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.JSONField(help_text="The output in clear, as the module returned it.")
