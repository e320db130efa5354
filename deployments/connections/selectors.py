"""Reads about connections: a deployment's artifacts, who may produce for a connection, who consumes whom."""

from __future__ import annotations

from dataclasses import dataclass

from jsonpointer import JsonPointer

from bundles.models import BundleVersion, ResourceType
from bundles.ports import constraint_errors
from bundles.resource_types import sensitive_pointers

from ..choices import DeploymentStatus
from ..models import Artifact, Deployment, Environment, Run
from ..secrets import fingerprint

# What a producer lookup never reads of a version: the module and its schemas (large, and per row).
HEAVY = (
    "bundle_version__module_archive",
    "bundle_version__params_schema",
    "bundle_version__ui_schema",
    "bundle_version__presets",
    "bundle_version__runbook",
    "bundle_version__module_variables",
    "bundle_version__module_outputs",
    "sensitive_params",
    "sensitive_outputs",
)

# A producer whose resources exist: it may be connected to, and cannot be destroyed under its consumers.
GONE = (DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED)


def latest_artifacts(deployment: Deployment) -> dict[str, Artifact]:
    """The newest version of each artifact of ``deployment``, by name."""
    latest: dict[str, Artifact] = {}
    for artifact in Artifact.objects.filter(deployment=deployment).order_by("name", "-serial"):
        latest.setdefault(artifact.name, artifact)
    return latest


def artifact_resource_type(artifact: Artifact) -> ResourceType | None:
    """The resource type an artifact was published as (that version, else the newest of its name)."""
    return ResourceType.objects.filter(
        name=artifact.type, version=artifact.type_version
    ).first() or ResourceType.latest(artifact.type)


def artifact_shown(artifact: Artifact) -> dict:
    """An artifact's ``data`` as anyone who may see the deployment reads it: every value its resource type
    calls ``x-sensitive`` replaced by a mask (every value, when the type is not loaded)."""
    data = artifact.payload()["data"]
    kind = artifact_resource_type(artifact)
    if kind is None:
        return {key: fingerprint(value) for key, value in data.items()}
    for where in sensitive_pointers(kind.data_schema, data):
        pointer = JsonPointer(where)
        if where:
            pointer.set(data, fingerprint(pointer.resolve(data)))
        else:
            data = fingerprint(data)
    return data


@dataclass
class ShownArtifact:
    """An artifact as the deployment's page lists it: specs in clear, data with its sensitive values masked."""

    artifact: Artifact
    data: dict
    masked: bool  # whether any value of data is masked (so there is something to reveal)
    clear: dict | None = None

    @property
    def data_rows(self) -> list[tuple[str, object, bool]]:
        """(key, value shown, whether it is masked) for each top-level key of data."""
        clear = self.clear or {}
        return [(key, value, value != clear.get(key)) for key, value in self.data.items()]


def artifacts_shown(deployment: Deployment) -> list[ShownArtifact]:
    """The newest version of each artifact of ``deployment``, by name, as anyone who may see it reads them."""
    shown = []
    for artifact in sorted(latest_artifacts(deployment).values(), key=lambda a: a.name):
        data, clear = artifact_shown(artifact), artifact.payload()["data"]
        shown.append(ShownArtifact(artifact, data, masked=data != clear, clear=clear))
    return shown


def artifact_of_type(deployment: Deployment, type_name: str) -> Artifact | None:
    """The newest artifact of ``type_name`` that ``deployment`` published (the first declared, if several)."""
    for artifact in latest_artifacts(deployment).values():
        if artifact.type == type_name:
            return artifact
    return None


def publishes(version, type_name: str) -> dict | None:
    """The artifact declaration of ``type_name`` in a bundle version, if it publishes one."""
    return next((a for a in version.artifacts if a.get("type") == type_name), None)


@dataclass
class Candidate:
    """A deployment of the environment, seen as a producer for one connection."""

    deployment: Deployment
    artifact: Artifact | None
    problems: list[str]
    default: bool = False

    @property
    def compatible(self) -> bool:
        return not self.problems

    @property
    def label(self) -> str:
        version = self.deployment.bundle_version
        shown = f"{self.deployment.name} ({version.bundle.title} {version.version})"
        return shown + (" · environment default" if self.default else "")


def candidates(environment: Environment, connection: dict, *, consumer: Deployment | None = None) -> list[Candidate]:
    """Every deployment of ``environment`` whose bundle publishes the connection's type, with the reasons (in
    words) it cannot be connected now; compatible ones first, the environment's default first of all."""
    kind = connection["type"]
    found = []
    published = _latest_of_type(environment, kind)
    default = env_default(environment, kind, published=published)
    rows = (
        Deployment.objects.filter(environment=environment, bundle_version_id__in=versions_publishing(kind))
        .exclude(status=DeploymentStatus.DESTROYED)
        .select_related("bundle_version__bundle")
        .defer(*HEAVY)
        .order_by("created_at")
    )
    for deployment in rows:
        if consumer is not None and deployment.pk == consumer.pk:
            continue
        artifact = published.get(deployment.pk)
        problems = producer_problems(deployment, artifact, connection)
        found.append(
            Candidate(deployment, artifact, problems, default=default is not None and default.pk == deployment.pk)
        )
    return sorted(found, key=lambda c: (not c.compatible, not c.default))


def producer_problems(deployment: Deployment, artifact: Artifact | None, connection: dict) -> list[str]:
    """Why ``deployment`` cannot fill ``connection`` now, in words; empty when it can."""
    if deployment.status in GONE:
        return [f"{deployment.name} is {deployment.get_status_display().lower()}."]
    if artifact is None:
        return [f"{deployment.name} has not applied successfully yet, so it publishes no {connection['type']} yet."]
    return [f"{deployment.name}: {p}" for p in constraint_errors(connection, artifact.specs)]


def versions_publishing(type_name: str) -> list[int]:
    """Ids of the bundle versions that publish an artifact of ``type_name`` (a few dozen rows, read lean)."""
    rows = BundleVersion.objects.only("id", "artifacts").iterator()
    return [v.pk for v in rows if any(a.get("type") == type_name for a in v.artifacts or [])]


def _latest_of_type(environment: Environment, type_name: str) -> dict:
    """The newest artifact of ``type_name`` of each deployment of the environment, in one query."""
    found: dict = {}
    rows = Artifact.objects.filter(deployment__environment=environment, type=type_name).defer("data")
    for artifact in rows.order_by("deployment_id", "name", "-serial"):
        found.setdefault(artifact.deployment_id, artifact)
    return found


def env_default(environment: Environment, type_name: str, *, published: dict | None = None) -> Deployment | None:
    """The environment's default producer of ``type_name``: the first-created live deployment whose bundle
    declares that artifact with ``env_default: true`` (and has published it)."""
    published = _latest_of_type(environment, type_name) if published is None else published
    rows = (
        Deployment.objects.filter(environment=environment, pk__in=list(published))
        .exclude(status__in=GONE)
        .select_related("bundle_version")
        .defer(*HEAVY)
        .order_by("created_at")
    )
    for deployment in rows:
        declared = publishes(deployment.bundle_version, type_name)
        if declared and declared.get("env_default"):
            return deployment
    return None


def consumers(producer: Deployment, *, live_only: bool = True) -> list[Deployment]:
    """The deployments of the producer's environment connected to it (those not destroyed, by default)."""
    rows = Deployment.objects.filter(environment_id=producer.environment_id).exclude(pk=producer.pk)
    if live_only:
        rows = rows.exclude(status=DeploymentStatus.DESTROYED)
    wanted = str(producer.pk)
    return [d for d in rows.order_by("name") if wanted in (d.connections or {}).values()]


def upstream_ids(environment: Environment) -> dict[str, set[str]]:
    """The environment's graph: each deployment id to the ids of the producers it is connected to."""
    rows = Deployment.objects.filter(environment=environment).exclude(status=DeploymentStatus.DESTROYED)
    return {str(pk): set((conns or {}).values()) for pk, conns in rows.values_list("pk", "connections")}


@dataclass
class UpstreamChange:
    """A producer whose artifact changed since the consumer's last successful apply used it."""

    connection: dict
    producer: Deployment
    used: int
    latest: int
    fields: list[str]


def upstream_changes(deployment: Deployment) -> list[UpstreamChange]:
    """For each connection, whether the producer's artifact is newer than the one the deployment's last successful
    apply used, with the field-level difference in words (a sensitive value only says that it changed)."""
    last = (
        Run.objects.filter(deployment=deployment, action="apply", status="succeeded")
        .order_by("-finished_at", "-id")
        .values_list("upstream", flat=True)
        .first()
    ) or {}
    changes = []
    for connection in deployment.bundle_version.connections:
        used = last.get(connection["name"])
        if not used:
            continue
        producer = Deployment.objects.filter(pk=used["deployment"]).first()
        latest = artifact_of_type(producer, connection["type"]) if producer is not None else None
        if latest is None or latest.serial == used["serial"]:
            continue
        before = Artifact.objects.filter(deployment=producer, name=used["artifact"], serial=used["serial"]).first()
        changes.append(
            UpstreamChange(connection, producer, used["serial"], latest.serial, _differences(before, latest))
        )
    return changes


def _differences(before: Artifact | None, after: Artifact) -> list[str]:
    if before is None:
        return ["the version it used is not stored any more"]
    shown = []
    for key in sorted(set(before.specs) | set(after.specs)):
        old, new = before.specs.get(key, "(none)"), after.specs.get(key, "(none)")
        if old != new:
            shown.append(f"specs.{key}: {old} → {new}")
    old_data, new_data = before.payload()["data"], after.payload()["data"]
    for key in sorted(set(old_data) | set(new_data)):
        if old_data.get(key) != new_data.get(key):
            shown.append(f"data.{key} changed")
    return shown
