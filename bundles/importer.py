"""Scaffold a bundle from an existing OpenTofu module (``manage.py import_module``).

Each variable becomes a param of the same name: its type (objects, maps, lists, sets, tuples and
``optional()`` with defaults), description, default and ``sensitive`` flag, and the validation blocks
that have a JSON Schema equivalent (the idioms are listed in :func:`translate_condition`). A condition
it cannot translate is left to the module (it still runs on every plan)
and listed in the report so ops can mirror it in the schema by hand.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import hcl
from .loader import NAME_RE

SLIPWAY_VARIABLE = "slipway"


@dataclass
class ImportReport:
    path: Path
    params: dict
    untranslated: list[str] = field(default_factory=list)


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


_LENGTH_BOUNDS = {
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}
_NUMBER = r"(-?\d+(?:\.\d+)?)"
_BOUNDS = {">=": "minimum", ">": "exclusiveMinimum", "<=": "maximum", "<": "exclusiveMaximum"}
_FLIPPED = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "=="}


def _target(schema: dict, path: str) -> dict | None:
    """The subschema an attribute path (``.tier``, ``.storage.class``) of an object variable names."""
    for name in [p for p in path.split(".") if p]:
        props = schema.get("properties")
        if not isinstance(props, dict) or not isinstance(props.get(name), dict):
            return None
        schema = props[name]
    return schema


def _kind(schema: dict) -> str | None:
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    return "object" if kind == "object" or "additionalProperties" in schema else kind


def _length(schema: dict, op: str, value: int) -> bool:
    """``length(x) <op> value`` as the length keyword for the value's type; False when the type has none."""
    keys = _LENGTH_BOUNDS.get(_kind(schema) or "")
    if keys is None or not isinstance(value, int):
        return False
    low, high = keys
    if op in ("==", ">="):
        schema[low] = value
    if op in ("==", "<="):
        schema[high] = value
    if op == ">":
        schema[low] = value + 1
    if op == "<":
        schema[high] = value - 1
    return True


def translate_condition(condition: str, var: str, schema: dict) -> bool:
    """Fold one validation condition into ``schema``; False when part of it has no JSON Schema equivalent.

    Idioms: ``contains([...], var.x)`` -> ``enum``; ``can(regex("...", var.x))`` -> ``pattern``;
    ``var.x >= N`` (and ``>``, ``<=``, ``<``, either side, joined by ``&&``) -> ``minimum``/``maximum``/
    ``exclusive*``; ``floor(var.x) == var.x`` -> ``integer``; ``length(var.x) == N`` (or ``<=``, ``>=``,
    ``<``, ``>``) -> min/max length, items or properties by the value's type;
    ``alltrue([for v in var.x : contains([...], v)])`` -> the items' ``enum``; any of these on an object's
    attribute (``var.x.tier``) -> the nested property; ``var.x == null ||`` in front of a nullable one.
    """
    text = hcl.expression(condition)
    ref = rf"var\.{re.escape(var)}((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\b"
    translated = False
    rest = text
    if "null" in (schema.get("type") or []):
        match = re.match(rf"\s*{ref}\s*==\s*null\s*\|\|", rest)
        if match and not match.group(1):
            rest = rest[match.end() :]
            text = rest

    def done(found: str) -> None:
        nonlocal rest, translated
        rest = rest.replace(found, "", 1)
        translated = True

    for match in re.finditer(
        rf"alltrue\(\s*\[\s*for\s+(\w+)\s+in\s+{ref}\s*:\s*contains\(\s*(\[.*?\])\s*,\s*(\w+)\s*\)\s*\]\s*\)",
        text,
        re.S,
    ):
        target = _target(schema, match.group(2))
        if target is None or match.group(1) != match.group(4) or not isinstance(target.get("items"), dict):
            continue
        try:
            target["items"]["enum"] = json.loads(match.group(3))
        except ValueError:
            continue
        done(match.group(0))
    for match in re.finditer(rf"contains\(\s*(\[.*?\])\s*,\s*{ref}\s*\)", text, re.S):
        target = _target(schema, match.group(2))
        try:
            values = json.loads(match.group(1))
        except ValueError:
            continue
        if target is not None:
            target["enum"] = values
            done(match.group(0))
    for match in re.finditer(rf'can\(\s*regex\(\s*("(?:[^"\\]|\\.)*")\s*,\s*{ref}\s*\)\s*\)', text, re.S):
        target = _target(schema, match.group(2))
        if target is not None:
            target["pattern"] = json.loads(match.group(1))
            done(match.group(0))
    for match in re.finditer(rf"length\(\s*{ref}\s*\)\s*(==|>=|<=|>|<)\s*{_NUMBER}", text):
        target = _target(schema, match.group(1))
        if target is not None and _length(target, match.group(2), _number(match.group(3))):
            done(match.group(0))
    for match in re.finditer(rf"{_NUMBER}\s*(==|>=|<=|>|<)\s*length\(\s*{ref}\s*\)", text):
        target = _target(schema, match.group(3))
        if target is not None and _length(target, _FLIPPED[match.group(2)], _number(match.group(1))):
            done(match.group(0))
    for match in re.finditer(rf"(?<![\w.(]){ref}\s*(>=|<=|>|<)\s*{_NUMBER}", text):
        target = _target(schema, match.group(1))
        if target is not None:
            target[_BOUNDS[match.group(2)]] = _number(match.group(3))
            done(match.group(0))
    for match in re.finditer(rf"{_NUMBER}\s*(>=|<=|>|<)\s*{ref}", text):
        target = _target(schema, match.group(3))
        if target is not None:
            target[_BOUNDS[_FLIPPED[match.group(2)]]] = _number(match.group(1))
            done(match.group(0))
    match = re.search(rf"floor\(\s*{ref}\s*\)\s*==\s*{ref}", text)
    if match and not match.group(1) and schema.get("type") in ("number", ["number", "null"]):
        schema["type"] = "integer" if schema["type"] == "number" else ["integer", "null"]
        done(match.group(0))
    leftover = re.sub(r"&&|\(|\)|\s", "", rest)
    return translated and not leftover


def variable_schema(block: hcl.Block, untranslated: list[str]) -> dict:
    body = block.body
    schema = hcl.type_schema(body.get("type"))
    if "description" in body:
        schema["description"] = hcl.unquote(body["description"])
    if body.get("sensitive") is True:
        schema["x-sensitive"] = True
    nullable = body.get("nullable") is not False and body.get("default", "") is None
    if nullable and isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]  # first: a `var.x == null ||` guard is then understood
    for validation in body.get("validation") or []:
        condition = validation.get("condition", "")
        if not translate_condition(str(condition), block.name, schema):
            untranslated.append(f"{block.where} variable {block.name!r}: {hcl.expression(condition)}")
    if "default" in body and body["default"] is not None:
        default = hcl.unquote(body["default"])
        if schema.get("type") == "integer" and isinstance(default, float) and default.is_integer():
            default = int(default)
        schema["default"] = default
    return {"title": block.name.replace("_", " ").capitalize(), **schema}


def scaffold(*, module: Path, name: str, output: Path, connections: dict[str, str] | None = None) -> ImportReport:
    """Write ``output/bundle.yaml`` and copy ``module`` into ``output/src``. Refuses to overwrite a bundle.

    ``connections`` names the variables that are connections, each with its resource type
    (``{"database": "postgresql"}``): they become connections (optional when the variable has a default),
    not params.
    """
    if not NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a bundle name: it must match {NAME_RE.pattern}")
    if (output / "bundle.yaml").exists():
        raise FileExistsError(f"{output / 'bundle.yaml'} already exists; choose another --output")
    variables = hcl.blocks(module, "variable")
    connections = connections or {}
    unknown = sorted(set(connections) - set(variables))
    if unknown:
        raise ValueError(f"no variable {', '.join(map(repr, unknown))} in the module to make a connection of")
    untranslated: list[str] = []
    properties, required = {}, []
    wired = []
    for var_name, block in variables.items():
        if var_name == SLIPWAY_VARIABLE:
            continue  # passed by Slipway itself, never a form field
        if var_name in connections:
            entry = {"name": var_name, "type": connections[var_name], "title": var_name.replace("_", " ").capitalize()}
            if "default" in block.body:
                entry["required"] = False
            wired.append(entry)
            continue
        properties[var_name] = variable_schema(block, untranslated)
        if "default" not in block.body:
            required.append(var_name)
    params = {"type": "object", "additionalProperties": False, "required": required, "properties": properties}
    manifest = {
        "schema": "slipway/bundle/v1",
        "name": name,
        "version": "0.1.0",
        "title": name.replace("-", " ").capitalize(),
        "description": f"Imported from {module.name}. Describe what a developer gets.",
        "category": "Imported",
        "params": params,
        "ui": {"ui:order": list(properties)},
        "presets": [],
        "connections": wired,
        "artifacts": [],
    }
    output.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        module, output / "src", dirs_exist_ok=True, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", ".git")
    )
    header = "# Scaffolded by `manage.py import_module`; review titles, descriptions and presets before publishing.\n"
    (output / "bundle.yaml").write_text(header + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    return ImportReport(path=output, params=params, untranslated=untranslated)
