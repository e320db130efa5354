"""Scaffold a bundle from an existing OpenTofu module (``manage.py import_module``).

Each variable becomes a param of the same name: its type (objects, maps, lists, sets, tuples and
``optional()`` with defaults), description, default and ``sensitive`` flag, and the validation blocks
that have a JSON Schema equivalent: ``contains([...], var.x)`` -> ``enum``, comparisons with numbers
-> ``minimum``/``maximum`` (``floor(var.x) == var.x`` -> ``integer``), ``can(regex("...", var.x))``
-> ``pattern``. A condition it cannot translate is left to the module (it still runs on every plan)
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


def translate_condition(condition: str, var: str, schema: dict) -> bool:
    """Fold one validation condition into ``schema``; False when part of it has no JSON Schema equivalent."""
    text = hcl.expression(condition)
    ref = rf"var\.{re.escape(var)}\b"
    translated = False
    rest = text
    match = re.search(rf"contains\(\s*(\[.*?\])\s*,\s*{ref}\s*\)", text, re.S)
    if match:
        try:
            schema["enum"] = json.loads(match.group(1))
            translated = True
            rest = rest.replace(match.group(0), "")
        except ValueError:
            pass
    match = re.search(rf'can\(\s*regex\(\s*("(?:[^"\\]|\\.)*")\s*,\s*{ref}\s*\)\s*\)', text, re.S)
    if match:
        schema["pattern"] = json.loads(match.group(1))
        translated = True
        rest = rest.replace(match.group(0), "")
    number = r"(-?\d+(?:\.\d+)?)"
    bounds = {">=": "minimum", ">": "exclusiveMinimum", "<=": "maximum", "<": "exclusiveMaximum"}
    flipped = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}
    for match in re.finditer(rf"{ref}\s*(>=|<=|>|<)\s*{number}", text):
        schema[bounds[match.group(1)]] = _number(match.group(2))
        rest = rest.replace(match.group(0), "")
        translated = True
    for match in re.finditer(rf"{number}\s*(>=|<=|>|<)\s*{ref}", text):
        schema[bounds[flipped[match.group(2)]]] = _number(match.group(1))
        rest = rest.replace(match.group(0), "")
        translated = True
    match = re.search(rf"floor\(\s*{ref}\s*\)\s*==\s*{ref}", text)
    if match and schema.get("type") == "number":
        schema["type"] = "integer"
        rest = rest.replace(match.group(0), "")
        translated = True
    leftover = re.sub(r"&&|\(|\)|\s", "", rest)
    return translated and not leftover


def variable_schema(block: hcl.Block, untranslated: list[str]) -> dict:
    body = block.body
    schema = hcl.type_schema(body.get("type"))
    if "description" in body:
        schema["description"] = hcl.unquote(body["description"])
    if body.get("sensitive") is True:
        schema["x-sensitive"] = True
    for validation in body.get("validation") or []:
        condition = validation.get("condition", "")
        if not translate_condition(str(condition), block.name, schema):
            untranslated.append(f"{block.where} variable {block.name!r}: {hcl.expression(condition)}")
    if "default" in body and body["default"] is not None:
        default = hcl.unquote(body["default"])
        if schema.get("type") == "integer" and isinstance(default, float) and default.is_integer():
            default = int(default)
        schema["default"] = default
    if body.get("nullable") is not False and body.get("default", "") is None:
        kind = schema.get("type")
        if isinstance(kind, str):
            schema["type"] = [kind, "null"]
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
