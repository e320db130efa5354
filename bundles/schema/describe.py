"""A bundle's inputs described for people who do not read JSON Schema: the API serves it with each
bundle version (``inputs``), and the ``slipway`` CLI prints it as it comes."""

from __future__ import annotations

import json
from typing import Any

from .labels import as_text, options
from .resolve import MAX_DEPTH, Resolver

_BOUNDS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "min length {}"),
    ("maxLength", "max length {}"),
    ("pattern", "pattern {}"),
    ("minItems", "min items {}"),
    ("maxItems", "max items {}"),
    ("multipleOf", "multiple of {}"),
)


def describe_inputs(schema: dict) -> list[dict[str, Any]]:
    """One entry per param, nested objects' and object items' params after their parent (``storage.size_gb``,
    ``rules[].port``): type, required, immutable, sensitive, title, constraints in words, choices with
    their labels, description."""
    resolver = Resolver(schema)
    return _describe(resolver, resolver.resolve(schema), "", 0)


def _describe(resolver: Resolver, node: dict, prefix: str, depth: int) -> list[dict[str, Any]]:
    required = set(node.get("required") or [])
    out: list[dict[str, Any]] = []
    for name, raw in (node.get("properties") or {}).items():
        prop = resolver.resolve(raw)
        choices = options(prop) or []
        kind = prop.get("type") or ("enum" if choices else "any")
        details = [fmt.format(prop[key]) for key, fmt in _BOUNDS if key in prop]
        if prop.get("x-unit"):
            details.append(f"unit {prop['x-unit']}")
        if prop.get("x-only-increase") is True:
            details.append("only moves to a later choice once applied" if choices else "only increases once applied")
        if "default" in prop:
            details.append(f"default {json.dumps(prop['default'])}")
        out.append(
            {
                "path": f"{prefix}{name}",
                "depth": depth,
                "type": "|".join(map(str, kind)) if isinstance(kind, list) else str(kind),
                "required": name in required,
                "immutable": prop.get("x-immutable") is True,
                "sensitive": prop.get("x-sensitive") is True,
                "title": str(prop.get("title") or ""),
                "constraints": details,
                # A label that only repeats the value says nothing: it is left empty.
                "choices": [{"value": v, "label": "" if label == as_text(v) else label} for v, label in choices],
                "description": " ".join(str(prop.get("description") or "").split()),
            }
        )
        if depth >= MAX_DEPTH:
            continue
        if prop.get("type") == "object" and prop.get("properties"):
            out += _describe(resolver, prop, f"{prefix}{name}.", depth + 1)
        items = resolver.resolve(prop.get("items") if isinstance(prop.get("items"), dict) else {})
        if prop.get("type") == "array" and items.get("properties"):
            out += _describe(resolver, items, f"{prefix}{name}[].", depth + 1)
    return out
