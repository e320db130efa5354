"""The words people read for a schema and its values: titles, enum labels (``x-enum-titles``, titled
``const`` variants), units, Yes/No. The form, the read-only display, the policy's hints and the API's
description of a bundle's inputs all label values here, so a value reads the same everywhere."""

from __future__ import annotations

import json
from typing import Any

MISSING = object()  # a value that is not there (as opposed to null)


def as_text(value: Any) -> str:
    """A value as a form input holds it: JSON's true/false, "" for nothing."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)  # JSON, never a Python repr
    return str(value)


def same(a: Any, b: Any) -> bool:
    """JSON Schema's equality (enum, const, uniqueItems): 1 == 1.0, but true != 1, [1] != [true], and lists
    and objects are equal when their items and members are, recursively."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def title(schema: dict, name: Any) -> str:
    """A field's label: its ``title``, else its name in words."""
    return str(schema.get("title") or str(name).replace("_", " ").capitalize())


def options(schema: dict) -> list[tuple[Any, str]] | None:
    """Enum values with their labels (``x-enum-titles`` as a map or a list, rjsf's ``enumNames``; titled
    ``const`` variants), or None when the value is not an enum."""
    if isinstance(schema.get("enum"), list):
        titles = schema.get("x-enum-titles") or {}
        if not titles and isinstance(schema.get("enumNames"), list):
            titles = schema["enumNames"]  # rjsf's labels, written in the schema by older rjsf users
        if isinstance(titles, list):
            titles = {str(v): t for v, t in zip(schema["enum"], titles, strict=False)}
        return [(v, str(titles.get(as_text(v), as_text(v)))) for v in schema["enum"]]
    for key in ("oneOf", "anyOf"):
        variants = schema.get(key)
        if variants and all(isinstance(v, dict) and "const" in v for v in variants):
            return [(v["const"], str(v.get("title", as_text(v["const"])))) for v in variants]
    return None


def option_label(schema: dict, value: Any) -> str | None:
    """The label the schema gives ``value`` among its options, or None when it gives none."""
    for option, label in options(schema) or []:
        if same(option, value):
            return label
    return None


def variant_title(variant: dict, index: int) -> str:
    """What a ``oneOf``/``anyOf`` branch is called: its title, its titled discriminator, its type."""
    if variant.get("title"):
        return str(variant["title"])
    for sub in (variant.get("properties") or {}).values():
        if isinstance(sub, dict) and "const" in sub:
            return str(sub.get("title") or as_text(sub["const"]))
    kind = variant.get("type")
    return str(kind).capitalize() if isinstance(kind, str) else f"Option {index + 1}"


def human_value(schema: dict, value: Any) -> str:
    """One value as a person reads it: the labels the form offers, units, Yes/No."""
    if value is None:
        return "—"
    label = option_label(schema, value)
    if label is not None:
        return label
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    unit = schema.get("x-unit")
    return f"{value} {unit}" if unit else str(value)
