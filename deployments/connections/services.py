"""Writes and checks for connections: which producer fills each connection, and the artifacts a run publishes."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

from django.conf import settings
from django.db import transaction

from portal.crypto import encrypt
from portal.errors import ParamsInvalid, ServiceError
from portal.events import record_event

from ..models import Artifact, Deployment, Environment
from .selectors import (
    artifact_of_type,
    candidates,
    consumers,
    env_default,
    latest_artifacts,
    producer_problems,
    upstream_ids,
)

FIELD = "/connections/{}"  # where a connection's error is shown (beside its select, in the API's field errors)


def connections_resolve(
    *, environment: Environment, bundle_version, requested: dict | None, deployment: Deployment | None = None
) -> dict[str, str]:
    """The producer of each of the version's connections, as ``{name: deployment id}``.

    ``requested`` names a producer (a deployment id or name) per connection; a connection left out keeps
    the deployment's current producer, else takes the environment's default when it says ``env_default``.
    Raises ParamsInvalid with, for each connection, why in words: missing, unknown, incompatible, or a
    cycle.
    """
    requested = dict(requested or {})
    current = dict(deployment.connections or {}) if deployment is not None else {}
    declared = {c["name"]: c for c in bundle_version.connections}
    errors: dict[str, list[str]] = {}
    for name in requested:
        if name not in declared:
            errors[FIELD.format(name)] = [
                f"{bundle_version.bundle.name} {bundle_version.version} has no connection {name!r}."
            ]
    chosen: dict[str, str] = {}
    for name, connection in declared.items():
        title = connection.get("title") or name
        ref = requested[name] if name in requested else current.get(name)
        if not ref and name not in requested and connection.get("env_default"):
            default = env_default(environment, connection["type"])
            ref = str(default.pk) if default is not None else ""
        if not ref:
            if connection.get("required", True):
                errors[FIELD.format(name)] = [
                    f"{title} is required: connect a {connection['type']} of {environment} "
                    f"({_none_yet(environment, connection)})."
                ]
            continue
        producer = _find(environment, str(ref))
        if producer is None:
            errors[FIELD.format(name)] = [f"{title}: there is no deployment {ref!r} in {environment}."]
            continue
        if deployment is not None and producer.pk == deployment.pk:
            errors[FIELD.format(name)] = [f"{title}: a deployment cannot be connected to itself."]
            continue
        problems = producer_problems(producer, artifact_of_type(producer, connection["type"]), connection)
        if not _publishes(producer, connection["type"]):
            problems = [f"{producer.name} ({producer.bundle_version}) publishes no {connection['type']}."]
        if problems:
            errors[FIELD.format(name)] = [f"{title} cannot be {producer.name}: {' '.join(problems)}"]
            continue
        chosen[name] = str(producer.pk)
    if deployment is not None and not errors:
        cycle = _cycle(environment, deployment, set(chosen.values()))
        if cycle:
            errors[FIELD.format(next(n for n, p in chosen.items() if p == cycle[0]))] = [
                "This connection would make a cycle: " + " → ".join(cycle_names(cycle, deployment)) + "."
            ]
    if errors:
        raise ParamsInvalid(errors, "Some connections cannot be made.")
    return chosen


def _none_yet(environment: Environment, connection: dict) -> str:
    found = candidates(environment, connection)
    if not found:
        return f"there is none in {environment} yet: deploy one first"
    return "; ".join(p for c in found for p in c.problems) or "pick one"


def _publishes(producer: Deployment, type_name: str) -> bool:
    return any(a.get("type") == type_name for a in producer.bundle_version.artifacts)


def _find(environment: Environment, ref: str) -> Deployment | None:
    """A deployment of ``environment`` by id, or by name."""
    rows = Deployment.objects.filter(environment=environment).select_related("bundle_version__bundle")
    try:
        return rows.filter(pk=uuid.UUID(ref)).first()
    except ValueError:
        return rows.filter(name=ref).first()


def _cycle(environment: Environment, deployment: Deployment, producers: set[str]) -> list[str]:
    """The path producer → ... → deployment when connecting ``deployment`` to ``producers`` closes a loop."""
    graph = upstream_ids(environment)
    graph[str(deployment.pk)] = producers
    target = str(deployment.pk)
    for start in producers:
        path, stack, seen = [], [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            if node == target:
                return path
            if node in seen:
                continue
            seen.add(node)
            stack += [(nxt, [*path, nxt]) for nxt in graph.get(node, ())]
    return []


def cycle_names(cycle: list[str], deployment: Deployment) -> list[str]:
    """The cycle in names, from ``deployment`` round to itself."""
    names = {str(pk): name for pk, name in Deployment.objects.filter(pk__in=cycle).values_list("pk", "name")}
    return [deployment.name] + [names.get(pk, pk) for pk in cycle]


def destroy_check(producer: Deployment) -> None:
    """Refuse to destroy a producer while deployments that are not destroyed are connected to it."""
    connected = consumers(producer)
    if connected:
        names = ", ".join(f"{d.name} ({d.get_status_display().lower()})" for d in connected)
        raise ServiceError(
            f"{producer.name} cannot be destroyed while {names} {'is' if len(connected) == 1 else 'are'} connected "
            "to it. Disconnect them first (change their connections, or destroy them), then destroy it."
        )


# --- artifacts -----------------------------------------------------------------------------------------


def payload_digest(payload: dict) -> str:
    """A keyed digest of a payload: tells versions apart without letting anyone guess a secret from it."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(settings.SECRET_KEY.encode(), canonical, hashlib.sha256).hexdigest()


@transaction.atomic
def artifact_store(*, deployment: Deployment, declared: dict, payload: dict, run=None) -> tuple[Artifact, bool]:
    """Store the payload as the artifact's next version, unless it equals the latest; (artifact, created)."""
    digest = payload_digest(payload)
    latest = (
        Artifact.objects.select_for_update()
        .filter(deployment=deployment, name=declared["name"])
        .order_by("-serial")
        .first()
    )
    if latest is not None and latest.digest == digest and latest.type == declared["type"]:
        return latest, False
    artifact = Artifact.objects.create(
        deployment=deployment,
        name=declared["name"],
        type=declared["type"],
        type_version=declared.get("type_version", ""),
        serial=(latest.serial + 1) if latest else 1,
        specs=payload["specs"],
        data=encrypt(json.dumps(payload["data"]).encode()) if payload["data"] else None,
        digest=digest,
        created_by_run=run,
    )
    return artifact, True


@transaction.atomic
def artifact_reveal(*, deployment: Deployment, name: str, actor, channel: str = "ui") -> tuple[Artifact, dict]:
    """The newest version of one artifact with its ``data`` in clear, and an audit event saying who saw it."""
    artifact = latest_artifacts(deployment).get(name)
    if artifact is None:
        raise ServiceError(f"{deployment.name} has published no artifact {name!r}.")
    record_event(
        event_type="secret.revealed",
        actor=actor,
        target=deployment,
        channel=channel,
        data={"artifact": name, "type": artifact.type, "serial": artifact.serial},
    )
    return artifact, artifact.payload()["data"]
