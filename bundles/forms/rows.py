"""Array and map rows added or removed by the form's htmx buttons."""

from __future__ import annotations

import copy
from typing import Any

from jsonpointer import JsonPointer, JsonPointerException

from ..schema import MISSING, Resolver, defaults


def _container(params: Any, pointer: str) -> tuple[Any, str] | None:
    """(the object or array holding the value at ``pointer``, the key or index in it), or None."""
    try:
        parts = JsonPointer(pointer).parts
        parent = JsonPointer.from_parts(parts[:-1]).resolve(params, MISSING)
    except JsonPointerException:
        return None
    return (parent, parts[-1]) if parts and parent is not MISSING else None


def add_row(schema: dict, params: dict, pointer: str) -> dict:
    """``params`` with a new row at the end of the array (or map) at ``pointer``, filled from the item defaults."""
    params = copy.deepcopy(params)
    resolver = Resolver(schema)
    try:
        target = resolver.at(schema, JsonPointer(pointer).parts, params)
    except JsonPointerException:
        return params
    found = _container(params, pointer)
    if found is None:
        return params
    parent, key = found
    if isinstance(parent, list):
        key = int(key) if key.isdigit() else len(parent)
        if key >= len(parent):
            return params
    current = parent.get(key) if isinstance(parent, dict) else parent[key]
    if resolver.map_values(target) is not None:
        current = current if isinstance(current, dict) else {}
        fresh, n = "key", 1
        while fresh in current:
            n += 1
            fresh = f"key{n}"
        item = defaults(resolver, resolver.map_values(target), 1)
        current[fresh] = "" if item is MISSING else item
    else:
        current = current if isinstance(current, list) else []
        item = defaults(resolver, target.get("items") if isinstance(target.get("items"), dict) else {}, 1)
        if item is MISSING:
            kind = resolver.kind(resolver.resolve(target.get("items") or {}))
            item = {} if kind == "object" else ""
        current.append(item)
    parent[key] = current
    return params


def remove_row(params: dict, pointer: str) -> dict:
    """``params`` without the array item (or map entry) at ``pointer``."""
    params = copy.deepcopy(params)
    found = _container(params, pointer)
    if found is not None:
        parent, key = found
        if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
            del parent[int(key)]
        elif isinstance(parent, dict):
            parent.pop(key, None)
    return params
