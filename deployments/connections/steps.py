"""The run's connection steps: each connection's payload in, each artifact out.

- ``inputs``: every connection's variable gets its producer's current payload (sensitive values in clear
  only in the run's ``terraform.tfvars.json``, added to the redactor so no log line, plan or output shows
  them); the run records the artifact version of each producer it used (``Run.upstream``).
- ``after_apply``: each artifact the bundle declares is computed from the outputs, checked against its
  resource type and stored as a new version when it changed.
"""

from __future__ import annotations

from jsonpointer import resolve_pointer

from bundles.models import ResourceType
from bundles.ports import PayloadError, artifact_payload
from bundles.resource_types import sensitive_pointers
from portal.errors import ParamsInvalid, ServiceError

from ..choices import RunAction
from ..models import Deployment, Run
from ..runs import steps as run_steps  # noqa: F401  (registered first: artifacts read what its outputs step read)
from ..runs.execution import Execution, RunFailed
from ..runs.pipeline import AFTER_APPLY, INPUTS, PIPELINE
from ..services import deployment_reapply
from .selectors import GONE, artifact_of_type, consumers
from .services import artifact_store


def _type(name: str, version: str) -> ResourceType | None:
    return ResourceType.objects.filter(name=name, version=version).first() or ResourceType.latest(name)


@PIPELINE.step(INPUTS)
def connections(ex: Execution) -> None:
    """Each connection's variable: the producer's latest payload, or null for an optional one left empty."""
    declared = ex.version.connections
    if not declared:
        return
    wired = Deployment.objects.filter(pk=ex.deployment.pk).values_list("connections", flat=True).first() or {}
    used = {}
    for connection in declared:
        name, title = connection["name"], connection.get("title") or connection["name"]
        producer = Deployment.objects.filter(pk=wired.get(name)).first() if wired.get(name) else None
        if producer is None:
            if connection.get("required", True):
                raise RunFailed(f"{title} is not connected: connect a {connection['type']} and apply again.")
            ex.variables[name] = None
            ex.log.system(f"Connection {name}: not connected (optional), so the module gets null.")
            continue
        artifact = artifact_of_type(producer, connection["type"])
        if artifact is None:
            raise RunFailed(
                f"{title}: {producer.name} has published no {connection['type']} yet (it has not applied "
                "successfully). Apply it first."
            )
        payload = artifact.payload()
        kind = _type(artifact.type, artifact.type_version)
        if kind is not None:
            # Every value the type calls sensitive is masked wherever the engine might print it.
            for where in sensitive_pointers(kind.data_schema, payload["data"]):
                ex.redactor.add(_at(payload["data"], where))
        ex.variables[name] = payload
        used[name] = {
            "deployment": str(producer.pk),
            "name": producer.name,
            "artifact": artifact.name,
            "type": artifact.type,
            "serial": artifact.serial,
        }
        ex.log.system(f"Connection {name}: {producer.name}'s {artifact.type} (artifact version {artifact.serial}).")
    Run.objects.filter(pk=ex.run.pk).update(upstream=used)
    ex.run.upstream = used


def _at(doc, pointer: str):
    return resolve_pointer(doc, pointer, None)


@PIPELINE.step(AFTER_APPLY)
def artifacts(ex: Execution) -> None:
    """Each declared artifact from the outputs just read: stored (data encrypted) when its payload changed."""
    if ex.run.action == RunAction.DESTROY:
        return
    for declared in ex.version.artifacts:
        kind = _type(declared["type"], declared.get("type_version", ""))
        if kind is None:
            ex.log.system(f"Artifact {declared['name']}: no resource type {declared['type']!r} is loaded.", "error")
            continue
        try:
            payload = artifact_payload(
                declared, ex.output_values, specs_schema=kind.specs_schema, data_schema=kind.data_schema
            )
        except PayloadError as exc:
            # The resources are applied; consumers keep the previous version, and the log says why.
            ex.log.system(f"Artifact {declared['name']} was not published: {exc}.", "error")
            continue
        artifact, created = artifact_store(deployment=ex.deployment, declared=declared, payload=payload, run=ex.run)
        said = f"published as version {artifact.serial}" if created else f"unchanged (version {artifact.serial})"
        ex.log.system(f"Artifact {declared['name']} ({declared['type']}): {said}.")
        if created and artifact.serial > 1:
            _propagate(ex, artifact)


def _propagate(ex: Execution, artifact) -> None:
    """A changed artifact queues a run of each consumer using it: planned, then applied when the consumer's
    environment policy allows (its gate holds it otherwise), like any change."""
    for consumer in consumers(ex.deployment):
        if consumer.status in GONE:
            continue
        uses = [c for c in consumer.bundle_version.connections if c["type"] == artifact.type]
        if not any((consumer.connections or {}).get(c["name"]) == str(ex.deployment.pk) for c in uses):
            continue
        reason = f"Upstream changed: {ex.deployment.name}'s {artifact.type} is now version {artifact.serial}."
        try:
            run = deployment_reapply(deployment=consumer, actor=None, channel="system", reason=reason)
        except (ServiceError, ParamsInvalid) as exc:
            ex.log.system(f"{consumer.name} uses it but could not be queued: {exc}", "warning")
        else:
            ex.log.system(f"{consumer.name} uses it: run #{run.pk} queued to plan (and apply, if its policy allows).")
