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
        if resolved["default"] is None and depth > 0:
            return MISSING  # a module's `default = null` means "not set": the key is left out, not stored as null
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


def _opened_defaults(resolver: Resolver, schema: Any, value: Any, depth: int = 0) -> Any:
    """``value`` with the defaults of fields that its own choices open (an ``if``/``then`` that holds, a
    ``dependencies`` branch its controlling field selects) filled in where it has nothing."""
    if depth > MAX_DEPTH or not isinstance(value, dict):
        return value
    resolved = resolver.nullable(resolver.resolve(schema))[0]
    if resolver.kind(resolved) not in ("object", None) or resolver.map_values(resolved) is not None:
        return value
    out = dict(value)
    for _ in range(4):  # a default can open a further branch
        effective = resolver.effective_object(resolved, out)
        before = dict(out)
        for name, sub in (effective.get("properties") or {}).items():
            if name in out:
                out[name] = _opened_defaults(resolver, sub, out[name], depth + 1)
                continue
            found = defaults(resolver, sub, depth + 1)
            if found is not MISSING and (found != {} or name in (effective.get("required") or [])):
                out[name] = found
        if out == before:
            break
    return out


def initial_values(schema: dict, preset: dict | None = None) -> dict:
    """What a new form starts with: the schema's defaults, with a preset's params laid over them (objects
    merged key by key, anything else replaced), then the defaults of fields the result opens."""
    return starting_params(schema, preset)


def starting_params(schema: dict, preset: dict | None = None, params: dict | None = None) -> dict:
    """The one rule for a new deployment's params, whichever door it comes in by (the form, the API, the
    CLI): the schema's defaults, the preset deep-merged over them, the caller's params deep-merged over
    that, then the defaults of any field the result opens (a condition or a dynamic dependency)."""
    resolver = Resolver(schema)
    values = defaults(resolver, schema)
    values = values if isinstance(values, dict) else {}
    values = deep_merge(values, (preset or {}).get("params") or {})
    values = deep_merge(values, params or {})
    return _opened_defaults(resolver, schema, values)
