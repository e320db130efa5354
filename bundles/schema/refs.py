"""``$ref`` inside one schema. A bundle is self-contained: remote references are never fetched
(that would be a server-side request forgery hole and a hang on offline machines)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonpointer import JsonPointer, JsonPointerException
from referencing import Registry
from referencing.exceptions import NoSuchResource

_MISSING = object()


def _refuse_remote(uri: str):
    raise NoSuchResource(ref=uri)


# Given to every validator: a reference that leaves the schema fails instead of being fetched.
REGISTRY = Registry(retrieve=_refuse_remote)


def pointer(parts) -> str:
    """A JSON pointer (RFC 6901) for a path of keys and indexes."""
    return JsonPointer.from_parts([str(p) for p in parts]).path


def resolve_ref(root: Any, ref: str) -> dict | None:
    """The subschema a local ``$ref`` (``#`` or ``#/json/pointer``) names in ``root``; None for anything
    else (a remote reference, a missing target, a target that is not a schema object)."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    try:
        target = JsonPointer(ref[1:]).resolve(root, _MISSING)
    except JsonPointerException:
        return None
    return target if isinstance(target, dict) else None


def remote_refs(schema: Any, path: tuple = ()) -> Iterator[tuple[str, str]]:
    """Yield (pointer, ref) for every ``$ref`` that does not point inside the schema."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str) and not value.startswith("#"):
                yield pointer((*path, key)), value
            else:
                yield from remote_refs(value, (*path, key))
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from remote_refs(item, (*path, index))


_SAME_VALUE_LISTS = ("allOf", "anyOf", "oneOf")
_SAME_VALUE_ONE = ("if", "then", "else", "not")


def ref_cycles(schema: Any, starts: Iterator[dict]) -> list[str]:
    """``$ref``s that come back to themselves without moving into a property or an item: a validator (or any
    walk) following them would never stop, so every deployment of the bundle would fail. Each is named once.
    ``starts`` are the subschemas to look from (every place :func:`walk` finds)."""
    found: list[str] = []

    def visit(sub: Any, trail: tuple[str, ...]) -> None:
        if not isinstance(sub, dict):
            return
        ref = sub.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            if ref in trail:
                if ref not in found:
                    found.append(ref)
                return
            visit(resolve_ref(schema, ref), (*trail, ref))
        for key in _SAME_VALUE_LISTS:
            for item in sub.get(key) if isinstance(sub.get(key), list) else []:
                visit(item, trail)
        for key in _SAME_VALUE_ONE:
            visit(sub.get(key), trail)
        dependent = sub.get("dependentSchemas")
        for item in dependent.values() if isinstance(dependent, dict) else []:
            visit(item, trail)

    for start in starts:
        visit(start, ())
    return found
