"""Reads about connections: a deployment's artifacts, who may produce for a connection, who consumes whom."""

from __future__ import annotations

from dataclasses import dataclass

from bundles.ports import constraint_errors

from ..choices import DeploymentStatus
from ..models import Artifact, Deployment, Environment

# A producer whose resources exist: it may be connected to, and cannot be destroyed under its consumers.
GONE = (DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED)


def latest_artifacts(deployment: Deployment) -> dict[str, Artifact]:
    """The newest version of each artifact of ``deployment``, by name."""
    latest: dict[str, Artifact] = {}
    for artifact in Artifact.objects.filter(deployment=deployment).order_by("name", "-serial"):
        latest.setdefault(artifact.name, artifact)
    return latest


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
    default = env_default(environment, kind)
    rows = (
        Deployment.objects.filter(environment=environment)
        .exclude(status=DeploymentStatus.DESTROYED)
        .select_related("bundle_version__bundle")
        .order_by("created_at")
    )
    for deployment in rows:
        if publishes(deployment.bundle_version, kind) is None:
            continue
        if consumer is not None and deployment.pk == consumer.pk:
            continue
        artifact = artifact_of_type(deployment, kind)
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


def env_default(environment: Environment, type_name: str) -> Deployment | None:
    """The environment's default producer of ``type_name``: the first-created live deployment whose bundle
    declares that artifact with ``env_default: true``."""
    rows = (
        Deployment.objects.filter(environment=environment)
        .exclude(status__in=GONE)
        .select_related("bundle_version")
        .order_by("created_at")
    )
    for deployment in rows:
        declared = publishes(deployment.bundle_version, type_name)
        if declared and declared.get("env_default") and artifact_of_type(deployment, type_name) is not None:
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
