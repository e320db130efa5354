"""What can be queried: every param path across all bundle versions (its type, title, bundles and sample
values), the outputs and resource attributes seen; and the query box's autocomplete built on them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from bundles.models import BundleVersion
from bundles.schema import ANY, Resolver, walk
from bundles.schema.walk import PROPERTY

from ..choices import DeploymentStatus, Tier
from ..models import StateResource
from ..secrets import is_mask
from .query import COLUMNS, CONNECTED_TO, display


@dataclass
class Dimension:
    """One queryable path: its type, where it comes from, and sample values."""

    path: str
    type: str = ""
    title: str = ""
    bundles: list[str] = field(default_factory=list)
    samples: list[Any] = field(default_factory=list)

    def add_sample(self, value: Any, limit: int = 8) -> None:
        if isinstance(value, (dict, list)) or len(self.samples) >= limit:
            return
        if is_mask(value) or value in self.samples or (isinstance(value, str) and len(value) > 80):
            return
        self.samples.append(value)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "type": self.type,
            "title": self.title,
            "bundles": self.bundles,
            "samples": self.samples,
        }


def _schema_type(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if kind:
        return str(kind)
    consts = [v.get("const") for v in schema.get("oneOf") or schema.get("anyOf") or [] if isinstance(v, dict)]
    values = schema.get("enum") or [c for c in consts if c is not None]
    if values:
        return {bool: "boolean", int: "integer", float: "number"}.get(type(values[0]), "string")
    return ""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "number", str: "string", dict: "object", list: "array"}.get(type(value), "null")


def schema_paths(schema: dict):
    """Yield (path, resolved subschema) for every property a params schema places in objects: nested objects,
    variants, ``allOf``, conditional branches, ``$ref``'d definitions. Paths through arrays and maps are left
    out (a query names keys, not items), and so are x-sensitive values (stored as masks: nothing to query)."""
    resolver = Resolver(schema)
    for node in walk(schema):
        if node.kind != PROPERTY or any(p == ANY or isinstance(p, int) for p in node.path):
            continue
        sub = resolver.resolve(node.schema)
        if not node.marked("x-sensitive") and not sub.get("x-sensitive"):
            yield node.path, sub


def _walk_values(data: Any, prefix: tuple = (), depth: int = 0):
    if isinstance(data, dict) and depth < 4:
        for key, value in data.items():
            yield (*prefix, str(key)), value
            yield from _walk_values(value, (*prefix, str(key)), depth + 1)


def param_dimensions(*, deployments: QuerySet | None = None, sample_size: int = 300) -> list[Dimension]:
    """Every param path across all bundle versions (type, bundles, sample values), then the outputs seen and
    the resource types and attributes indexed. Samples come from ``deployments`` (scope it to the user)."""
    dims: dict[str, Dimension] = {}
    for version in BundleVersion.objects.select_related("bundle").order_by("bundle__name", "-major", "-minor"):
        for path, sub in schema_paths(version.params_schema or {}):
            key = "params." + ".".join(path)
            dim = dims.setdefault(key, Dimension(path=key, type=_schema_type(sub), title=str(sub.get("title", ""))))
            if version.bundle.name not in dim.bundles:
                dim.bundles.append(version.bundle.name)
            for value in sub.get("enum") or []:
                dim.add_sample(value)
            for variant in sub.get("oneOf") or sub.get("anyOf") or []:
                if isinstance(variant, dict) and "const" in variant:
                    dim.add_sample(variant["const"])
    if deployments is not None:
        for params, outputs in deployments.order_by("-updated_at").values_list("params", "outputs")[:sample_size]:
            for path, value in _walk_values(params or {}):
                key = "params." + ".".join(path)
                dim = dims.get(key)
                parent = dims.get("params." + ".".join(path[:-1])) if len(path) > 1 else None
                if dim is None and parent is not None and parent.type == "object":
                    # A key of a map (additionalProperties): known from the data, not the schema.
                    dim = dims[key] = Dimension(path=key, type=_json_type(value), bundles=list(parent.bundles))
                if dim is not None:
                    dim.add_sample(value)
            for path, value in _walk_values(outputs or {}):
                key = "outputs." + ".".join(path)
                dim = dims.setdefault(key, Dimension(path=key, type=_json_type(value)))
                dim.add_sample(value)
        resources = StateResource.objects.filter(deployment__in=deployments.values("pk"))
        for kind, attributes in resources.order_by("-id").values_list("type", "attributes")[:sample_size]:
            for name, value in (attributes or {}).items():
                key = f"resource.{kind}.{name}"
                dim = dims.setdefault(key, Dimension(path=key, type=_json_type(value)))
                dim.add_sample(value)
    return sorted(dims.values(), key=lambda d: (d.path.split(".")[0] != "params", d.path))


def suggestions(text: str, dimensions: list[Dimension], deployments: QuerySet, limit: int = 20) -> list[str]:
    """Whole queries that complete the last term of ``text``: a field name, or a value of the field typed."""
    head, last = re.match(r"^(.*?)([^\s()]*)$", text, re.S).groups()
    negate = "-" if last.startswith("-") else ""
    term = last[len(negate) :]
    op_match = re.search(r"(<=|>=|[:<>~])", term)
    fields = {**{name: None for name in (*COLUMNS, CONNECTED_TO)}, **{d.path: d for d in dimensions}}
    out: list[str] = []
    if op_match is None:
        for name in fields:
            if name.lower().startswith(term.lower()):
                out.append(f"{head}{negate}{name}:")
        return out[:limit]
    name, op = term[: op_match.start()], op_match.group(1)
    typed_value = term[op_match.end() :].strip('"')
    dim = fields.get(name)
    samples = list(dim.samples) if dim is not None else _column_samples(name, deployments)
    for value in samples:
        shown = display(value)
        if shown.lower().startswith(typed_value.lower()):
            if isinstance(value, str) and (not shown or re.search(r'[\s()"]', shown)):
                shown = json.dumps(value)
            out.append(f"{head}{negate}{name}{op}{shown}")
    return out[:limit]


def _column_samples(name: str, deployments: QuerySet) -> list[str]:
    """Values of a plain field among the deployments the user can see (never other teams' names)."""
    if name == "env.tier":
        return list(Tier.values)
    if name == "status":
        return list(DeploymentStatus.values)
    if name == CONNECTED_TO:  # the producers: deployments that have published an artifact
        return list(
            deployments.filter(artifacts__isnull=False).order_by("name").values_list("name", flat=True).distinct()[:50]
        )
    column = COLUMNS.get(name)
    if column is None:
        return []
    return list(deployments.order_by(column).values_list(column, flat=True).distinct()[:50])
