"""Bundles: curated OpenTofu modules with a schema of pre-approved inputs."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from portal.history import tracked_history

from . import semver
from .cost import Estimate, monthly_estimate
from .schema import check_params_schema


class Bundle(models.Model):
    """A curated module; its versions carry the code and the schema."""

    name = models.SlugField(max_length=52, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    category = models.CharField(max_length=60, blank=True)
    icon = models.TextField(blank=True, help_text="Inline SVG.")
    owner = models.CharField(max_length=120, blank=True, help_text="The team that curates it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = tracked_history()

    class Meta:
        ordering = ["category", "name"]

    def __str__(self) -> str:
        return self.title or self.name

    def latest_version(self) -> "BundleVersion | None":
        return self.versions.order_by("-major", "-minor", "-patch", "-prerelease").first()


class ResourceType(models.Model):
    """One published, immutable version of a resource type: the typed payload a connection carries.

    ``specs_schema`` describes what is shown and searchable; ``data_schema`` what may be sensitive
    (``x-sensitive``), stored encrypted wherever a payload is kept.
    """

    name = models.SlugField(max_length=52)
    version = models.CharField(max_length=64)
    major = models.PositiveIntegerField(editable=False, default=0)
    minor = models.PositiveIntegerField(editable=False, default=0)
    patch = models.PositiveIntegerField(editable=False, default=0)
    prerelease = models.CharField(max_length=64, editable=False, default="~")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    icon = models.TextField(blank=True, help_text="Inline SVG.")
    specs_schema = models.JSONField(default=dict)
    data_schema = models.JSONField(default=dict)
    sha256 = models.CharField(max_length=64, editable=False, help_text="Digest of the type's file.")
    published_at = models.DateTimeField(auto_now_add=True)
    history = tracked_history()

    class Meta:
        ordering = ["name", "-major", "-minor", "-patch", "-prerelease"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="resourcetype_unique_version")]

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    def save(self, *args, **kwargs) -> None:
        parsed = semver.parse(self.version)
        self.major, self.minor, self.patch = parsed.major, parsed.minor, parsed.patch
        self.prerelease = parsed.prerelease or "~"
        super().save(*args, **kwargs)

    @classmethod
    def latest(cls, name: str) -> "ResourceType | None":
        return cls.objects.filter(name=name).order_by("-major", "-minor", "-patch", "-prerelease").first()


class BundleVersion(models.Model):
    """One published, immutable version of a bundle."""

    # What a version publishes beside its schema, shown as it is (the admin's page, the API).
    PUBLISHED = (
        "ui_schema",
        "presets",
        "connections",
        "artifacts",
        "cost",
        "alarms",
        "runbook",
        "changelog",
        "module_sha256",
    )

    bundle = models.ForeignKey(Bundle, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=64)
    major = models.PositiveIntegerField(editable=False, default=0)
    minor = models.PositiveIntegerField(editable=False, default=0)
    patch = models.PositiveIntegerField(editable=False, default=0)
    # Empty string sorts after any pre-release tag in descending order of "-prerelease"
    # would be wrong, so a release stores "~" (sorts after letters and digits).
    prerelease = models.CharField(max_length=64, editable=False, default="~")
    params_schema = models.JSONField(default=dict)
    ui_schema = models.JSONField(default=dict, blank=True)
    presets = models.JSONField(default=list, blank=True)
    connections = models.JSONField(default=list, blank=True)
    artifacts = models.JSONField(default=list, blank=True)
    cost = models.JSONField(
        default=dict, blank=True, help_text="The monthly cost model (bundle.yaml `cost:`); empty when it has none."
    )
    alarms = models.JSONField(
        default=list, blank=True, help_text="The alarms the bundle declares (bundle.yaml `alarms:`)."
    )
    runbook = models.TextField(blank=True, help_text="Markdown, shown on every deployment's page.")
    changelog = models.TextField(blank=True)
    module_archive = models.BinaryField(editable=False, help_text="The module's src/ as a deterministic .tar.gz.")
    module_sha256 = models.CharField(max_length=64, editable=False)
    manifest_sha256 = models.CharField(max_length=64, editable=False, help_text="Digest of bundle.yaml.")
    module_variables = models.JSONField(default=dict, editable=False, help_text="Variables declared by the module.")
    module_outputs = models.JSONField(default=dict, editable=False, help_text="Outputs declared by the module.")
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = tracked_history(excluded_fields=["module_archive"])

    class Meta:
        ordering = ["bundle__name", "-major", "-minor", "-patch", "-prerelease"]
        constraints = [models.UniqueConstraint(fields=["bundle", "version"], name="bundleversion_unique_version")]

    def __str__(self) -> str:
        return f"{self.bundle.name}@{self.version}"

    def save(self, *args, **kwargs) -> None:
        parsed = semver.parse(self.version)
        self.major, self.minor, self.patch = parsed.major, parsed.minor, parsed.patch
        self.prerelease = parsed.prerelease or "~"
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            semver.parse(self.version)
        except ValueError as exc:
            raise ValidationError({"version": str(exc)}) from exc
        problems = check_params_schema(self.params_schema)
        if problems:
            raise ValidationError({"params_schema": problems})

    @property
    def takes_slipway_context(self) -> bool:
        return "slipway" in self.module_variables

    def monthly_estimate(self, params: dict) -> "Estimate | None":
        """What ``params`` cost a month under this version's cost model (None without one)."""
        return monthly_estimate(self.cost, self.params_schema, params)

    def preset(self, name: str) -> dict | None:
        for preset in self.presets:
            if preset.get("name") == name:
                return preset
        return None
