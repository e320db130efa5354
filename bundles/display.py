"""Params for reading, not editing: one row per value, with the labels a person knows.

Deployment pages, exception requests and reviews show configuration as "Size: Large (4 vCPU,
32 GiB)" or "Storage / Encrypted: Yes", never as raw JSON. Sensitive values are masked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .schema import pointer as to_pointer


@dataclass
class Row:
    pointer: str
    label: str
    value: str
    sensitive: bool = False
    errors: list[str] = field(default_factory=list)


def _title(schema: dict, name: str) -> str:
    return str(schema.get("title") or str(name).replace("_", " ").capitalize())


def human_value(schema: dict, value: Any) -> str:
    """One value as a person reads it: enum titles, units, Yes/No."""
    if value is None:
        return "—"
    titles = schema.get("x-enum-titles")
    if isinstance(titles, dict) and str(value) in titles:
        return str(titles[str(value)])
    for variant in schema.get("oneOf") or schema.get("anyOf") or []:
        if isinstance(variant, dict) and "const" in variant and variant["const"] == value:
            return str(variant.get("title", value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    unit = schema.get("x-unit")
    return f"{value} {unit}" if unit else str(value)


def _resolve(root: dict, schema: dict) -> dict:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
        return {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def params_rows(schema: dict, params: Any, errors: dict[str, list[str]] | None = None) -> list[Row]:
    """Every value in ``params`` (in the schema's order, then any extra keys), flattened to rows."""
    rows: list[Row] = []
    errors = errors or {}
    _walk(schema, schema, params if isinstance(params, dict) else {}, (), [], rows, errors)
    return rows


def _walk(root, schema, value, path, labels, rows, errors) -> None:
    schema = _resolve(root, schema)
    properties = schema.get("properties") or {}
    names = [n for n in properties if n in value] + [n for n in value if n not in properties]
    for name in names:
        sub = _resolve(root, properties.get(name) or {})
        item = value[name]
        label = [*labels, _title(sub, name)]
        here = (*path, name)
        if isinstance(item, dict) and not sub.get("x-sensitive"):
            _walk(root, sub, item, here, label, rows, errors)
            continue
        if isinstance(item, list) and item and all(isinstance(i, dict) for i in item):
            items = _resolve(root, sub.get("items") or {})
            for index, element in enumerate(item):
                _walk(root, items, element, (*here, index), [*label[:-1], f"{label[-1]} {index + 1}"], rows, errors)
            continue
        if isinstance(item, list):
            items = _resolve(root, sub.get("items") or {})
            shown = ", ".join(human_value(items, i) for i in item) or "(none)"
        else:
            shown = human_value(sub, item)
        where = to_pointer(here)
        rows.append(
            Row(
                pointer=where,
                label=" \u203a ".join(label),  # a right-pointing angle quote between levels
                value="••••••" if sub.get("x-sensitive") else shown,
                sensitive=bool(sub.get("x-sensitive")),
                errors=list(errors.get(where, [])),
            )
        )
