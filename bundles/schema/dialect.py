"""Which JSON Schema dialect a schema is written in: the one place that decides.

A schema's own ``$schema`` is honoured. Without one, the keywords decide, because real schemas
(written for react-jsonschema-form) are mostly draft-07 and rarely say so: a schema that uses a
form only draft-07 and before know (``dependencies``, array-form ``items``, ``additionalItems``,
``definitions``) is read as draft-07; draft-04's ``id`` or a boolean ``exclusiveMinimum`` /
``exclusiveMaximum`` make it draft-04; anything else is Draft 2020-12.

A schema that mixes forms of different dialects is ambiguous (one half would be silently
ignored by the validator): :func:`dialect_problems` names the keywords, and lint refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import (
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
)

from .refs import pointer

DEFAULT = Draft202012Validator
# Dialects before 2019-09: boolean exclusiveMinimum/Maximum (draft-04), array-form ``items``, ``dependencies``.
_LEGACY = (Draft4Validator, Draft6Validator, Draft7Validator)

# The ``$schema`` URIs Slipway reads (with or without the trailing ``#``, http or https).
KNOWN = {
    "json-schema.org/draft-04/schema": Draft4Validator,
    "json-schema.org/draft-06/schema": Draft6Validator,
    "json-schema.org/draft-07/schema": Draft7Validator,
    "json-schema.org/draft/2019-09/schema": Draft201909Validator,
    "json-schema.org/draft/2020-12/schema": Draft202012Validator,
}
NAMES = {
    Draft4Validator: "draft-04",
    Draft6Validator: "draft-06",
    Draft7Validator: "draft-07",
    Draft201909Validator: "2019-09",
    Draft202012Validator: "2020-12",
}

# Keywords (or forms of them) that exist in one family of dialects only.
_LEGACY_ONLY = ("dependencies", "additionalItems", "definitions")  # plus array-form items
# (``$defs`` is left out: any dialect's ``$ref`` reaches it by pointer, so it decides nothing.)
_MODERN_ONLY = (
    "prefixItems",
    "dependentSchemas",
    "dependentRequired",
    "unevaluatedProperties",
    "unevaluatedItems",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "minContains",
    "maxContains",
    "$anchor",
)

# Where subschemas sit, by keyword.
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas", "dependencies")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_SCHEMA_ONE = (
    "additionalProperties",
    "additionalItems",
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
)


def _uri_key(uri: str) -> str:
    return uri.split("://", 1)[-1].rstrip("#").rstrip("/")


def _subschemas(schema: dict, path: tuple = (), depth: int = 0) -> Iterator[tuple[tuple, dict]]:
    """(path, subschema) for every schema object at a schema position (not property names, not values)."""
    yield path, schema
    if depth > 64:
        return
    for key in _SCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            for name, sub in schema[key].items():
                if isinstance(sub, dict):
                    yield from _subschemas(sub, (*path, key, name), depth + 1)
    for key in _SCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            for index, sub in enumerate(schema[key]):
                if isinstance(sub, dict):
                    yield from _subschemas(sub, (*path, key, index), depth + 1)
    for key in _SCHEMA_ONE:
        if isinstance(schema.get(key), dict):
            yield from _subschemas(schema[key], (*path, key), depth + 1)


def _where(path: tuple, key: str) -> str:
    return pointer((*path, key))


@dataclass(frozen=True)
class Forms:
    """The dialect-specific keyword forms a schema uses, each as ``/pointer`` of the keyword."""

    legacy: tuple[str, ...]  # draft-07 and before
    draft4: tuple[str, ...]  # draft-04 only: ``id``, boolean exclusive bounds
    modern: tuple[str, ...]  # 2019-09 and later


def forms(schema: Any) -> Forms:
    legacy: list[str] = []
    draft4: list[str] = []
    modern: list[str] = []
    if not isinstance(schema, dict):
        return Forms((), (), ())
    for path, sub in _subschemas(schema):
        for key in _LEGACY_ONLY:
            if key in sub:
                legacy.append(_where(path, key))
        if isinstance(sub.get("items"), list):
            legacy.append(_where(path, "items") + " (array form)")
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            if isinstance(sub.get(key), bool):
                draft4.append(_where(path, key) + " (boolean)")
        if isinstance(sub.get("id"), str) and "$id" not in sub:
            draft4.append(_where(path, "id"))
        for key in _MODERN_ONLY:
            if key in sub:
                modern.append(_where(path, key))
    return Forms(tuple(legacy), tuple(draft4), tuple(modern))


def declared(schema: Any) -> type | None:
    """The validator class ``$schema`` names, or None when it names none Slipway knows (or is absent)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("$schema"), str):
        return None
    return KNOWN.get(_uri_key(schema["$schema"]))


def validator_class(schema: Any) -> type:
    """The jsonschema validator class for ``schema``: its ``$schema``, else what its keywords say."""
    if not isinstance(schema, dict):
        return DEFAULT
    named = declared(schema)
    if named is not None:
        return named
    if "$schema" in schema:
        return DEFAULT  # an unknown $schema: lint refuses it; validation uses the default meanwhile
    found = forms(schema)
    if found.modern:
        return DEFAULT  # mixed with legacy forms or not, 2020-12 keywords win (lint refuses the mix)
    if found.draft4:
        return Draft4Validator
    if found.legacy:
        return Draft7Validator
    return DEFAULT


def is_legacy(schema: Any) -> bool:
    """Whether ``schema`` is read with the rules of draft-07 and before."""
    return validator_class(schema) in _LEGACY


def dialect_problems(schema: Any) -> tuple[list[str], list[str]]:
    """(errors, notes) about a schema's dialect, each naming JSON pointers. Errors: an unknown ``$schema``,
    keywords of two dialect families, keywords the declared dialect does not have (the validator would
    ignore them). Notes: a schema read as draft-07 or draft-04 without saying so (one line)."""
    if not isinstance(schema, dict):
        return [], []
    errors: list[str] = []
    notes: list[str] = []
    found = forms(schema)
    old = (*found.legacy, *found.draft4)
    if "$schema" in schema:
        named = declared(schema)
        if named is None:
            supported = ", ".join(f"https://{k}" for k in KNOWN)
            return [f"/$schema: {schema['$schema']!r} is not a dialect Slipway reads; use one of {supported}."], []
        modern = found.modern
        if named in _LEGACY and modern:
            errors.append(
                f"/$schema: the schema declares {NAMES[named]} but uses keywords that dialect does not have "
                f"(the validator would ignore them): {', '.join(modern)}."
            )
        # ``definitions`` is a plain container any dialect can $ref into; 2019-09 still has array-form items.
        foreign = [w for w in old if not w.endswith("/definitions")]
        if named is Draft201909Validator:
            foreign = [w for w in foreign if "/dependencies" in w or w in found.draft4]
        if named not in _LEGACY and foreign:
            errors.append(
                f"/$schema: the schema declares {NAMES[named]} but uses draft-07-and-earlier forms that dialect "
                f"does not have (the validator would ignore or refuse them): {', '.join(foreign)}."
            )
        if named is not Draft4Validator and found.draft4 and named in _LEGACY:
            errors.append(
                f"/$schema: {NAMES[named]} has no boolean exclusiveMinimum/exclusiveMaximum and no 'id' "
                f"(use $id and numeric bounds): {', '.join(found.draft4)}."
            )
        return errors, notes
    old = tuple(w for w in old if not w.endswith("/definitions"))  # a container any dialect can $ref into
    if found.modern and old:
        errors.append(
            "the schema mixes dialects: draft-07-and-earlier forms "
            f"({', '.join(old)}) with 2019-09/2020-12 keywords ({', '.join(found.modern)}); "
            'keep to one and say which with "$schema".'
        )
    elif validator_class(schema) in _LEGACY:
        cls = validator_class(schema)
        notes.append(
            f'no "$schema": read as {NAMES[cls]} because it uses {", ".join((*found.draft4, *found.legacy)[:3])}'
            f'{" and more" if len(old) > 3 else ""}; add "$schema": "http://json-schema.org/'
            f'{NAMES[cls]}/schema#" to say so.'
        )
    return errors, notes
