"""``x-options-from``: a param whose choices come from a connected producer's artifact.

A param (anywhere in the params schema: a property, an array's items) may say::

    subnet:
      type: string
      title: Subnet
      x-options-from: {connection: network, path: specs.subnets, value: id, label: name}

``connection`` names one of the bundle's connections; ``path`` is a dotted path into the producer's
payload that must start with ``specs.`` (the non-sensitive part: ``data`` may hold secrets and is never
offered as choices) and lead to a list. When the list holds objects, ``value`` is the key of each item
that is stored as the param's value, and ``label`` (optional) the key shown for it; when it holds plain
values, each one is both.

What lives here needs no database: the lint (:func:`option_problems`), reading the choices out of a
payload's specs (:func:`choices_in`), and drawing them into a schema (:func:`with_choices`). Which
producer is connected, and so which specs, is the deployments layer's business
(``deployments.connections.options``).
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from jsonpointer import JsonPointer

from .resource_types import TypeManifest
from .schema import Match, as_text, matching_values, walk

KEY = "x-options-from"
WHERE = "bundle.yaml"
ALLOWED = {"connection", "path", "value", "label"}


def has_options_from(schema: dict) -> bool:
    return isinstance(schema.get(KEY), dict)


class Place(NamedTuple):
    """One subschema that takes its choices from a connection: where it is in the schema, and what it says."""

    pointer: str  # the subschema's JSON pointer in the params schema
    spec: dict  # its x-options-from


def places(schema: Any) -> list[Place]:
    """Every subschema of a params schema that declares ``x-options-from``."""
    return [Place(node.pointer, node.schema[KEY]) for node in walk(schema) if has_options_from(node.schema)]


def values_from_options(schema: Any, params: Any) -> list[Match]:
    """Every value in ``params`` that a subschema with ``x-options-from`` governs."""
    return matching_values(schema, params, has_options_from)


# --- lint ------------------------------------------------------------------------------------------


def option_problems(params: dict, connections: list, registry: dict[str, TypeManifest]) -> list[str]:
    """Every problem with the params' ``x-options-from``, each naming its place: an unknown connection, a path
    the connection's resource type does not have in its specs, a path into ``data``, keys the items lack."""
    declared = {c.get("name"): c for c in connections if isinstance(c, dict)}
    problems = []
    for node in walk(params):
        spec = node.schema.get(KEY)
        if spec is None:
            continue
        at = f"{WHERE} /params{node.pointer}/{KEY}"
        if not isinstance(spec, dict):
            problems.append(f"{at}: must be a mapping {{connection, path, value, label}}")
            continue
        unknown = sorted(set(spec) - ALLOWED)
        if unknown:
            problems.append(f"{at}: unknown key(s) {', '.join(unknown)}; the keys are connection, path, value, label")
        bad = [k for k in ALLOWED if k in spec and not isinstance(spec[k], str)]
        if bad or "connection" not in spec or "path" not in spec:
            problems.append(f"{at}: connection and path are required, and every key is a string")
            continue
        connection = declared.get(spec["connection"])
        if connection is None:
            names = ", ".join(sorted(str(n) for n in declared)) or "(none)"
            problems.append(
                f"{at}/connection: the bundle has no connection {spec['connection']!r}; its connections are {names}"
            )
            continue
        kind = registry.get(connection.get("type", ""))
        if kind is None:
            continue  # the connection's own lint says the type is unknown
        problems += _path_problems(at, spec, kind)
    return problems


def _path_problems(at: str, spec: dict, kind: TypeManifest) -> list[str]:
    part, _, rest = spec["path"].partition(".")
    if part == "data":
        return [
            f"{at}/path: {spec['path']!r} reads data, which may hold sensitive values; choices are shown to "
            "everyone who opens the form, so they come from specs only (specs.FIELD)"
        ]
    if part != "specs" or not rest:
        return [f"{at}/path: {spec['path']!r} must start with specs. and name a field, e.g. specs.subnets"]
    schema: Any = kind.specs
    for key in rest.split("."):
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(props, dict) or key not in props:
            return [f"{at}/path: the {kind.name} type ({kind.version}) has no specs field {rest!r}"]
        schema = props[key]
    if schema.get("type") != "array" or not isinstance(schema.get("items"), dict):
        return [f"{at}/path: specs.{rest} of the {kind.name} type is not a list, so it cannot offer choices"]
    items = schema["items"]
    if items.get("type") == "object":
        fields = items.get("properties") or {}
        if "value" not in spec:
            return [f"{at}: the items of specs.{rest} are objects; say which of their keys is stored (value: KEY)"]
        return [
            f"{at}/{key}: the items of specs.{rest} have no key {spec[key]!r}; they have {', '.join(sorted(fields))}"
            for key in ("value", "label")
            if key in spec and spec[key] not in fields
        ]
    return [
        f"{at}/{key}: the items of specs.{rest} are plain values, so there is no key to read ({key} must be left out)"
        for key in ("value", "label")
        if key in spec
    ]


# --- choices --------------------------------------------------------------------------------------


def choices_in(spec: dict, specs: dict) -> list[tuple[Any, str]]:
    """The (value, label) choices ``spec`` reads out of a producer's ``specs`` (empty when the path is not there
    or holds no list). Items without the value key are skipped; a label falls back to the value."""
    found: Any = specs
    for key in str(spec.get("path", "")).split(".")[1:]:
        found = found.get(key) if isinstance(found, dict) else None
    if not isinstance(found, list):
        return []
    choices = []
    for item in found:
        if isinstance(item, dict):
            if spec.get("value") not in item or isinstance(item[spec["value"]], (dict, list)):
                continue
            value = item[spec["value"]]
            label = item.get(spec.get("label", ""), value) if spec.get("label") else value
        elif isinstance(item, list):
            continue
        else:
            value, label = item, item
        choices.append((value, as_text(label) if label is not None else as_text(value)))
    return choices


def with_choices(schema: dict, drawn: dict[str, tuple[list[tuple[Any, str]], str]]) -> dict:
    """A copy of ``schema`` where each ``x-options-from`` subschema (by its schema pointer in ``drawn``) is an enum
    of its choices, labelled, with a sentence saying where they come from; ``schema`` itself is left alone."""
    if not drawn:
        return schema
    out = copy.deepcopy(schema)
    for where, (choices, note) in drawn.items():
        sub = JsonPointer(where).resolve(out) if where else out
        sub["enum"] = [value for value, _ in choices]
        sub["x-enum-titles"] = {as_text(value): label for value, label in choices}
        sub.pop("oneOf", None)
        sub.pop("anyOf", None)
        if note:
            sub["description"] = f"{sub['description']}\n\n{note}" if sub.get("description") else note
    return out
