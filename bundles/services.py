"""Writes for bundles: publishing versions from a bundle directory."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from portal.actor import actor_user

from .archive import ArchiveError, extract
from .loader import BundleError, Manifest, read_bundle
from .models import Bundle, BundleVersion, ResourceType
from .resource_types import ResourceTypeError, TypeManifest


@dataclass
class PublishResult:
    version: BundleVersion
    created: bool


# What a version keeps of its manifest under the same name.
_KEPT_AS_IS = (
    "version",
    "presets",
    "connections",
    "artifacts",
    "cost",
    "alarms",
    "runbook",
    "changelog",
    "module_archive",
    "module_sha256",
    "manifest_sha256",
    "module_variables",
    "module_outputs",
)


@transaction.atomic
def bundle_version_publish(*, manifest: Manifest, actor=None) -> PublishResult:
    """Publish ``manifest`` as a new bundle version; a no-op when the same files are already loaded.

    A published version never changes: different files under a loaded version number are refused.
    """
    bundle, _ = Bundle.objects.select_for_update().get_or_create(name=manifest.name, defaults={"title": manifest.title})
    existing = BundleVersion.objects.filter(bundle=bundle, version=manifest.version).first()
    if existing is not None:
        changed = []
        if existing.module_sha256 != manifest.module_sha256:
            changed.append(f"module sha256 {existing.module_sha256[:12]} -> {manifest.module_sha256[:12]}")
        if existing.manifest_sha256 != manifest.manifest_sha256:
            changed.append("bundle.yaml or operator.md changed")
        if changed:
            raise BundleError(
                manifest.path,
                [
                    f"{manifest.name} {manifest.version} is already published and a published version never "
                    f"changes ({', '.join(changed)}). Bump 'version' in bundle.yaml to publish the change."
                ],
            )
        return PublishResult(existing, created=False)

    version = BundleVersion(
        bundle=bundle,
        params_schema=manifest.params,
        ui_schema=manifest.ui,
        published_by=actor_user(actor),
        **{name: getattr(manifest, name) for name in _KEPT_AS_IS},
    )
    version.full_clean(exclude=["module_archive", "published_by"])
    version._change_reason = "published"
    version.save()

    # The bundle's card shows the newest version's metadata.
    latest = bundle.latest_version()
    if latest == version:
        for name in ("title", "description", "category", "icon"):
            setattr(bundle, name, getattr(manifest, name))
        bundle._change_reason = f"published {manifest.version}"
        bundle.save()
    return PublishResult(version, created=True)


def bundle_version_publish_archive(*, data: bytes, filename: str, actor=None) -> PublishResult:
    """Publish a bundle uploaded as a .tar.gz or .zip of its directory.

    The archive is unpacked safely into a temporary directory (removed afterwards), linted with the
    same checks as ``lint_bundle`` and ``sync_bundles``, then published. Raises BundleError.
    """
    with tempfile.TemporaryDirectory(prefix="slipway-upload-") as tmp:
        try:
            root = extract(data, filename, Path(tmp))
        except ArchiveError as exc:
            raise BundleError(filename, exc.problems) from exc
        return bundle_version_publish(manifest=read_bundle(root), actor=actor)


@dataclass
class TypePublishResult:
    resource_type: ResourceType
    created: bool


@transaction.atomic
def resource_type_publish(*, manifest: TypeManifest) -> TypePublishResult:
    """Publish a resource type version; a no-op when the same file is already loaded, refused when the same
    version number is loaded with other content (a published version never changes)."""
    existing = ResourceType.objects.select_for_update().filter(name=manifest.name, version=manifest.version).first()
    if existing is not None:
        if existing.sha256 != manifest.sha256:
            raise ResourceTypeError(
                manifest.path,
                [
                    f"resource type {manifest.name} {manifest.version} is already published and a published version "
                    "never changes. Bump 'version' to publish the change."
                ],
            )
        return TypePublishResult(existing, created=False)
    created = ResourceType(
        name=manifest.name,
        version=manifest.version,
        title=manifest.title,
        description=manifest.description,
        icon=manifest.icon,
        specs_schema=manifest.specs,
        data_schema=manifest.data,
        sha256=manifest.sha256,
    )
    created._change_reason = "published"
    created.save()
    return TypePublishResult(created, created=True)
