"""Params for reading, not editing: one row per value, with the labels a person knows.

Deployment pages, exception requests and reviews show configuration as "Size: Large (4 vCPU,
32 GiB)" or "Storage / Encrypted: Yes", never as raw JSON. Sensitive values are masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .schema import Resolver, defaults, human_value, pointer, sensitive_values, title, variant_title


@dataclass
class Row:
    pointer: str
    label: str
    value: str
    sensitive: bool = False
    errors: list[str] = field(default_factory=list)


def params_rows(schema: dict, params: Any, errors: dict[str, list[str]] | None = None) -> list[Row]:
    """Every value in ``params`` (in the schema's order, then any extra keys), flattened to rows.

    The schema is read the way the form engine reads it (``$ref``, ``allOf``, conditions, the
    chosen ``oneOf``/``anyOf`` variant), so a row carries the label the form showed for it. A value
    any branch of the schema marks ``x-sensitive`` is masked, wherever it sits."""
    params = params if isinstance(params, dict) else {}
    hidden = {match.pointer for match in sensitive_values(schema, params)}
    reading = _Reading(Resolver(schema), [], errors or {}, hidden)
    reading.walk(schema, params, (), [])
    return reading.rows


def absent_value(schema: dict, where: str) -> str:
    """What a value left out of a configuration reads as: the schema's default, marked as such
    ("Small (default)"), or "(not set)" when the field has none."""
    resolver = Resolver(schema)
    start = defaults(resolver, schema)
    if isinstance(start, dict):
        for row in params_rows(schema, start):
            if row.pointer == where:
                return f"{row.value} (default)"
    return "(not set)"


@dataclass
class _Reading:
    resolver: Resolver
    rows: list[Row]
    errors: dict[str, list[str]]
    hidden: set[str]

    def _object(self, schema: Any, value: dict, labels: list[str], path) -> tuple[dict, set]:
        """The object schema that applies to ``value`` and the names of its variant's discriminators.
        A chosen variant gets a row of its own ("Authentication: Bearer token")."""
        schema, variant, index = self.resolver.chosen(self.resolver.resolve(schema), value)
        discriminators: set[str] = set()
        if variant is not None:
            if labels:
                self.rows.append(Row(pointer(path), " \u203a ".join(labels), variant_title(variant, index)))
            discriminators = {n for n, sub in (variant.get("properties") or {}).items() if "const" in (sub or {})}
        return self.resolver.effective_object(schema, value), discriminators

    def walk(self, schema, value: dict, path: tuple, labels: list[str]) -> None:
        schema, discriminators = self._object(schema, value, labels, path)
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
        names = [n for n in properties if n in value] + [n for n in value if n not in properties]
        for name in names:
            if name in discriminators:
                continue  # said by the variant's own row
            sub = self.resolver.nullable(self.resolver.resolve(properties.get(name, extra)))[0]
            self.value(sub, value[name], (*path, name), [*labels, title(sub, name)])

    def value(self, sub: dict, item: Any, here: tuple, label: list[str]) -> None:
        where = pointer(here)
        sensitive = where in self.hidden
        if isinstance(item, dict) and not sensitive:
            self.walk(sub, item, here, label)
            return
        if isinstance(item, list) and item and all(isinstance(i, dict) for i in item) and not sensitive:
            items = sub.get("items") or {}
            for index, element in enumerate(item):
                self.walk(items, element, (*here, index), [*label[:-1], f"{label[-1]} {index + 1}"])
            return
        if isinstance(item, list):
            items = self.resolver.resolve(sub.get("items") or {})
            shown = ", ".join(human_value(items, i) for i in item) or "(none)"
            sensitive = sensitive or any(pointer((*here, i)) in self.hidden for i in range(len(item)))
        else:
            shown = human_value(sub, item)
        self.rows.append(
            Row(
                pointer=where,
                label=" \u203a ".join(label),  # a right-pointing angle quote between levels
                value="••••••" if sensitive else shown,
                sensitive=sensitive,
                errors=list(self.errors.get(where, [])),
            )
        )
