"""``x-options-from`` in a deployment: the choices a param takes from the producer connected to it now.

The form draws them (:func:`schema_with_choices`, redrawn when a connection's select changes), and every
door that saves a configuration checks the submitted value against them (:func:`option_errors`: the
new and edit forms, the API and the CLI through ``deployment_create``/``deployment_update``, a restore,
a bulk change's dry run and rollout). The choices are read from the producer's newest artifact, so they
are the ones its last successful apply published.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from bundles.options import choices_in, places, values_from_options, with_choices
from bundles.schema import as_text, same, title

from ..models import Deployment, Environment
from .selectors import artifact_of_type


@dataclass
class Offered:
    """What one ``x-options-from`` place offers now: the choices, and the producer they come from (or why none)."""

    spec: dict
    connection: dict | None
    producer: Deployment | None
    choices: list[tuple[Any, str]]

    @property
    def type_name(self) -> str:
        return self.connection["type"] if self.connection else "producer"

    def note(self) -> str:
        """Where the choices come from, in words (shown under the field)."""
        conn = (self.connection or {}).get("title") or self.spec.get("connection", "")
        if self.producer is None:
            return f"The choices come from the connected {self.type_name} ({conn}): connect one first."
        if not self.choices:
            return f"{self.producer.name} publishes no {self.spec.get('path', 'choices')} to choose from."
        return f"The choices come from {self.producer.name} ({conn})."


def offered(*, environment: Environment | None, version, wiring: dict | None) -> dict[str, Offered]:
    """Each ``x-options-from`` place of ``version``'s params (by schema pointer) with what it offers when the
    connections are ``wiring`` (``{name: producer id}``, as the form or the service has them)."""
    found = places(version.params_schema)
    if not found:
        return {}
    declared = {c["name"]: c for c in version.connections or []}
    wiring = wiring or {}
    producers: dict[str, Deployment | None] = {}
    out = {}
    for place in found:
        name = place.spec.get("connection", "")
        connection = declared.get(name)
        if name not in producers:
            producers[name] = _producer(environment, wiring.get(name))
        producer = producers[name]
        choices: list[tuple[Any, str]] = []
        if producer is not None and connection is not None:
            artifact = artifact_of_type(producer, connection["type"])
            choices = choices_in(place.spec, artifact.specs) if artifact is not None else []
        out[place.pointer] = Offered(place.spec, connection, producer, choices)
    return out


def _producer(environment: Environment | None, ref: str | None) -> Deployment | None:
    if environment is None or not ref:
        return None
    try:
        key = uuid.UUID(str(ref))
    except ValueError:
        return Deployment.objects.filter(environment=environment, name=str(ref)).first()
    return Deployment.objects.filter(environment=environment, pk=key).first()


def schema_with_choices(schema: dict, *, environment: Environment | None, version, wiring: dict | None) -> dict:
    """``schema`` (the bundle's, or the policy's narrowing of it) with each ``x-options-from`` field drawn as a
    choice of what the connected producer offers now."""
    found = offered(environment=environment, version=version, wiring=wiring)
    return with_choices(schema, {where: (o.choices, o.note()) for where, o in found.items()})


def option_errors(*, environment: Environment, version, params: dict, wiring: dict | None) -> dict[str, list[str]]:
    """An error (by the value's JSON pointer) for each value of an ``x-options-from`` field that is not among the
    choices its connected producer offers now."""
    found = offered(environment=environment, version=version, wiring=wiring)
    if not found:
        return {}
    by_spec = {id(o.spec): o for o in found.values()}
    errors = {}
    for match in values_from_options(version.params_schema, params):
        option = by_spec.get(id(match.schema.get("x-options-from")))
        if option is None or match.value is None:
            continue
        if any(same(match.value, value) for value, _ in option.choices):
            continue
        name = title(match.schema, match.pointer.rsplit("/", 1)[-1] or "value")
        if option.producer is None:
            why = f"it takes its choices from the connected {option.type_name}, and none is connected"
        elif not option.choices:
            why = f"{option.producer.name} publishes nothing to choose from ({option.spec.get('path', '')})"
        else:
            listed = ", ".join(label for _, label in option.choices)
            why = f"it is not one of {option.producer.name}'s choices ({listed})"
        errors[match.pointer] = [f"{name} cannot be {as_text(match.value)!r}: {why}."]
    return errors
