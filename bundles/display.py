"""Params for reading, not editing: one row per value, with the labels a person knows.

Deployment pages, exception requests and reviews show configuration as "Size: Large (4 vCPU,
32 GiB)" or "Storage / Encrypted: Yes", never as raw JSON. Sensitive values are masked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .forms import _merge, _Walker
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
    """One value as a person reads it: the labels the form offers, units, Yes/No."""
    if value is None:
        return "—"
    for option, label in _Walker.options(schema) or []:
        if option == value and type(option) is type(value):
            return label
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    unit = schema.get("x-unit")
    return f"{value} {unit}" if unit else str(value)


def params_rows(schema: dict, params: Any, errors: dict[str, list[str]] | None = None) -> list[Row]:
    """Every value in ``params`` (in the schema's order, then any extra keys), flattened to rows.

    The schema is read the way the form engine reads it (``$ref``, ``allOf``, conditions, the
    chosen ``oneOf``/``anyOf`` variant), so a row carries the label the form showed for it."""
    rows: list[Row] = []
    _walk(_Walker(schema), schema, params if isinstance(params, dict) else {}, (), [], rows, errors or {})
    return rows


def _object(walker: _Walker, schema: Any, value: dict, labels: list[str], path, rows) -> tuple[dict, set]:
    """The object schema that applies to ``value`` and the names of its variant's discriminators.
    A chosen variant gets a row of its own ("Authentication: Bearer token")."""
    schema = walker.resolve(schema)
    found = walker.variants(schema)
    discriminators: set[str] = set()
    if found and _Walker.options(schema) is None:
        key, variants = found
        base = walker.variant_base(schema, key)
        index = walker.active_variant(variants, base, value)
        chosen = variants[index]
        if labels:
            rows.append(Row(to_pointer(path), " \u203a ".join(labels), walker.variant_title(chosen, index)))
        discriminators = {n for n, sub in (chosen.get("properties") or {}).items() if "const" in (sub or {})}
        schema = _merge(walker.resolve(base), chosen)
    return walker.effective_object(schema, value), discriminators


def _walk(walker: _Walker, schema, value, path, labels, rows, errors) -> None:
    schema, discriminators = _object(walker, schema, value, labels, path, rows)
    properties = schema.get("properties") or {}
    names = [n for n in properties if n in value] + [n for n in value if n not in properties]
    for name in names:
        if name in discriminators:
            continue  # said by the variant's own row
        sub = walker.nullable(walker.resolve(properties.get(name) or {}))[0]
        item = value[name]
        label = [*labels, _title(sub, name)]
        here = (*path, name)
        if isinstance(item, dict) and not sub.get("x-sensitive"):
            _walk(walker, sub, item, here, label, rows, errors)
            continue
        if isinstance(item, list) and item and all(isinstance(i, dict) for i in item):
            items = sub.get("items") or {}
            for index, element in enumerate(item):
                _walk(walker, items, element, (*here, index), [*label[:-1], f"{label[-1]} {index + 1}"], rows, errors)
            continue
        if isinstance(item, list):
            items = walker.resolve(sub.get("items") or {})
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
