"""A bundle's ports: its ``connections`` (typed inputs from other deployments) and ``artifacts`` (typed
outputs other deployments connect to), each of a resource type (:mod:`bundles.resource_types`).

- :func:`port_problems` is the lint of both, against the module's variables and outputs.
- :func:`normalized` is what a published version stores: defaults filled in, each type's version pinned.
- :func:`artifact_payload` computes an artifact's payload from the module's outputs after an apply.
- :func:`constraint_errors` says, in words, why a producer's specs do not suit a connection.

A connection is the module variable of the same name; its value is the producer's payload,
``{"specs": {...}, "data": {...}}``, or ``null`` for an optional connection left empty.
"""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft202012Validator

from . import hcl
from .resource_types import TypeManifest
from .schema import check_overlay_schema, pointer
from .schema.validate import param_errors

WHERE = "bundle.yaml"
PARTS = ("specs", "data")


def normalized(connections: list, artifacts: list, registry: dict[str, TypeManifest]) -> tuple[list, list]:
    """The ports as a version stores them: ``required`` and ``env_default`` explicit, each type's version
    pinned (the version the bundle was linted against)."""
    out_connections, out_artifacts = [], []
    for item in connections:
        entry = {"required": True, "env_default": False, "constraints": {}, **copy.deepcopy(item)}
        entry.setdefault("title", item["name"].replace("_", " ").capitalize())
        entry["type_version"] = registry[item["type"]].version
        out_connections.append(entry)
    for item in artifacts:
        entry = {"specs": {}, "data": {}, "env_default": False, **copy.deepcopy(item)}
        entry.setdefault("title", registry[item["type"]].title)
        entry["type_version"] = registry[item["type"]].version
        out_artifacts.append(entry)
    return out_connections, out_artifacts


# --- lint ------------------------------------------------------------------------------------------


def port_problems(
    *,
    connections: list,
    artifacts: list,
    params: dict,
    variables: dict[str, hcl.Block],
    outputs: dict[str, hcl.Block],
    registry: dict[str, TypeManifest],
) -> list[str]:
    """Every problem with the bundle's connections and artifacts, each naming its place."""
    problems: list[str] = []
    param_names = set((params.get("properties") or {}) if isinstance(params, dict) else {})
    seen: set[str] = set()
    for index, item in enumerate(connections):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue  # the meta-schema has said what is wrong with it
        here, name = f"{WHERE} /connections/{index}", item["name"]
        if name in seen:
            problems.append(f"{here}/name: {name!r} is declared twice; each connection has a name of its own")
        seen.add(name)
        if name in param_names:
            problems.append(f"{here}/name: {name!r} is also a param; a connection and a param cannot share a name")
        if name == "slipway":
            problems.append(f"{here}/name: 'slipway' is the context variable Slipway passes; name the connection else")
        kind = registry.get(item.get("type", ""))
        if kind is None:
            problems.append(f"{here}/type: no resource type {item.get('type')!r}; the types are {_names(registry)}")
            continue
        problems += _constraint_problems(here, item.get("constraints") or {}, kind)
        block = variables.get(name)
        if block is None:
            problems.append(
                f"{here}: no variable {name!r} in src/*.tf; each connection is the module variable of that name"
            )
            continue
        problems += _variable_problems(block, item, kind)
    seen = set()
    for index, item in enumerate(artifacts):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        here, name = f"{WHERE} /artifacts/{index}", item["name"]
        if name in seen:
            problems.append(f"{here}/name: {name!r} is declared twice; each artifact has a name of its own")
        seen.add(name)
        kind = registry.get(item.get("type", ""))
        if kind is None:
            problems.append(f"{here}/type: no resource type {item.get('type')!r}; the types are {_names(registry)}")
            continue
        problems += _artifact_problems(here, item, kind, outputs)
    return problems


def _names(registry: dict) -> str:
    return ", ".join(sorted(registry)) or "(none)"


def _constraint_problems(here: str, constraints: dict, kind: TypeManifest) -> list[str]:
    problems = []
    for key, schema in constraints.items():
        at = f"{here}/constraints{pointer((key,))}"
        part, _, field = key.partition(".")
        if part != "specs":
            problems.append(
                f"{at}: constraints test the producer's specs only (specs.FIELD); data may be sensitive and is not "
                "read to choose a producer"
            )
            continue
        if field not in (kind.specs.get("properties") or {}):
            problems.append(f"{at}: the {kind.name} type has no specs field {field!r}")
        for problem in check_overlay_schema(schema) if isinstance(schema, dict) else ["must be a JSON Schema object"]:
            problems.append(f"{at}: {problem}")
    return problems


def _variable_problems(block: hcl.Block, item: dict, kind: TypeManifest) -> list[str]:
    name = item["name"]
    lead = f"{block.where}: variable {name!r} (a {kind.name} connection)"
    problems = []
    if item.get("required", True) is False and "default" not in block.body:
        problems.append(f"{lead} is optional, so it needs default = null (its value when nothing is connected)")
    if _has_sensitive(kind.data) and hcl.unquote(block.body.get("sensitive")) is not True:
        problems.append(
            f"{lead} carries sensitive data ({', '.join(_sensitive_fields(kind.data))}), so it must be "
            "declared sensitive = true"
        )
    try:
        declared = hcl.type_schema(block.body.get("type"))
    except hcl.HCLError as exc:
        return [*problems, f"{lead}: {exc}"]
    if not declared:
        return problems  # type any: takes any payload
    if hcl.json_kind(declared) != "object" or "properties" not in declared:
        problems.append(
            f"{lead} must be an object({{specs = object({{...}}), data = object({{...}})}}), not "
            f"{hcl.expression(block.body.get('type'))}"
        )
        return problems
    for part, sub in declared["properties"].items():
        if part not in PARTS:
            problems.append(f"{lead} declares {part!r}; a payload has only specs and data")
            continue
        problems += _part_problems(lead, part, sub, part in (declared.get("required") or []), getattr(kind, part))
    return problems


def _part_problems(lead: str, part: str, declared: dict, required: bool, typed: dict) -> list[str]:
    if not declared or hcl.json_kind(declared) != "object" or "properties" not in declared:
        return [] if not declared or hcl.json_kind(declared) == "object" else [f"{lead}: {part} must be an object"]
    problems = []
    fields = typed.get("properties") or {}
    always = set(typed.get("required") or [])
    for field, sub in declared["properties"].items():
        if field not in fields:
            problems.append(f"{lead} declares {part}.{field}, which the type does not have")
            continue
        want, have = hcl.json_kind(fields[field]), hcl.json_kind(sub)
        if want and have and want != have:
            problems.append(f"{lead}: {part}.{field} is {want} in the type but {have} in the variable")
        if field in (declared.get("required") or []) and field not in always:
            problems.append(f"{lead} requires {part}.{field}, which a producer may leave out; declare it optional(...)")
    return problems


def _has_sensitive(schema: dict) -> bool:
    return bool(_sensitive_fields(schema))


def _sensitive_fields(schema: dict) -> list[str]:
    return [n for n, s in (schema.get("properties") or {}).items() if isinstance(s, dict) and s.get("x-sensitive")]


def _artifact_problems(here: str, item: dict, kind: TypeManifest, outputs: dict[str, hcl.Block]) -> list[str]:
    problems = []
    for part in PARTS:
        mapping = item.get(part) or {}
        typed = getattr(kind, part)
        fields = typed.get("properties") or {}
        for field in typed.get("required") or []:
            if field not in mapping:
                problems.append(
                    f"{here}/{part}: the {kind.name} type requires {part}.{field}; map it to a module output"
                )
        for field, source in mapping.items():
            at = f"{here}/{part}{pointer((field,))}"
            if field not in fields:
                problems.append(f"{at}: the {kind.name} type has no {part} field {field!r}")
                continue
            output = str(source).split(".", 1)[0]
            block = outputs.get(output)
            if block is None:
                problems.append(f"{at}: no output {output!r} in src/*.tf; map each field to a module output")
                continue
            sensitive = hcl.unquote(block.body.get("sensitive")) is True
            if fields[field].get("x-sensitive") and not sensitive:
                problems.append(
                    f"{at}: {part}.{field} is sensitive in the {kind.name} type, so output {output!r} at "
                    f"{block.where} must be sensitive = true"
                )
            if part == "specs" and sensitive:
                problems.append(
                    f"{at}: output {output!r} is sensitive, and specs are shown and searchable; map it under data"
                )
            elif sensitive and not fields[field].get("x-sensitive"):
                problems.append(
                    f"{at}: output {output!r} is sensitive, but {part}.{field} is not sensitive in the {kind.name} "
                    "type, so its value would be shown to everyone who can see the deployment; map it to a "
                    "sensitive field"
                )
    return problems


# --- payloads ----------------------------------------------------------------------------------------


class PayloadError(Exception):
    """An artifact's payload cannot be computed from the outputs (an output missing, or not of the type)."""


def _pick(outputs: dict[str, Any], source: str) -> Any:
    name, _, rest = str(source).partition(".")
    if name not in outputs:
        raise PayloadError(f"the module has no output {name!r} after the apply")
    value = outputs[name]
    for key in rest.split(".") if rest else []:
        if not isinstance(value, dict) or key not in value:
            raise PayloadError(f"output {name!r} has no key {key!r}")
        value = value[key]
    return value


def artifact_payload(artifact: dict, outputs: dict[str, Any], *, specs_schema: dict, data_schema: dict) -> dict:
    """``{"specs", "data"}`` of one artifact from the module's output values (sensitive ones included),
    checked against the type; raises :class:`PayloadError` saying what does not fit."""
    payload = {part: {f: _pick(outputs, src) for f, src in (artifact.get(part) or {}).items()} for part in PARTS}
    for part, schema in (("specs", specs_schema), ("data", data_schema)):
        errors = param_errors(schema, payload[part])
        if errors:
            shown = "; ".join(f"{part}{where or ''}: {' '.join(m)}" for where, m in errors.items())
            raise PayloadError(f"the {artifact['type']} payload does not fit its type: {shown}")
    return payload


def constraint_errors(connection: dict, specs: dict) -> list[str]:
    """Why a producer's ``specs`` do not meet a connection's constraints, in words (empty when they do)."""
    problems = []
    for key, schema in (connection.get("constraints") or {}).items():
        field = key.partition(".")[2]
        value = specs.get(field)
        for error in Draft202012Validator(schema).iter_errors(value):
            problems.append(f"{field} is {value!r}: {error.message}")
    return problems
