"""Values a schema gives before anyone types: defaults, and presets laid over them."""

from __future__ import annotations

import copy
from typing import Any

from .labels import MISSING
from .resolve import MAX_DEPTH, Resolver


def defaults(resolver: Resolver, schema: Any, depth: int = 0) -> Any:
    """The value a fresh form starts from: the schema's default, or an object of its properties' defaults
    (nested objects' included; an optional object with no default inside is left out). MISSING when none."""
    resolved = resolver.resolve(schema)
    if "default" in resolved:
        return copy.deepcopy(resolved["default"])
    if depth > MAX_DEPTH or resolver.kind(resolved) != "object" or resolver.variants(resolved):
        return MISSING
    out = {}
    for name, sub in (resolved.get("properties") or {}).items():
        value = defaults(resolver, sub, depth + 1)
        if value is not MISSING and (value != {} or name in (resolved.get("required") or [])):
            out[name] = value
    return out if out or depth == 0 else MISSING


def deep_merge(base: Any, overlay: Any) -> Any:
    """``overlay`` laid over ``base``: objects are merged key by key (recursively), anything else in
    ``overlay`` (a scalar, a list, null) replaces what ``base`` has. Neither argument is changed."""
    if not isinstance(base, dict) or not isinstance(overlay, dict):
        return copy.deepcopy(overlay)
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        out[key] = deep_merge(out[key], value) if key in out else copy.deepcopy(value)
    return out


def initial_values(schema: dict, preset: dict | None = None) -> dict:
    """What a new form starts with: the schema's defaults, with a preset's params laid over them."""
    values = defaults(Resolver(schema), schema)
    values = values if isinstance(values, dict) else {}
    return deep_merge(values, (preset or {}).get("params") or {})
