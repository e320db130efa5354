"""Read a bundle directory (``bundle.yaml`` + ``src/``) into a manifest ready to publish.

The module is stored as a deterministic .tar.gz (sorted entries, zeroed times and owners),
so the same files always give the same sha256 and loading twice is a no-op.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from portal.inputs import value_problems

from . import hcl, semver
from .alarms import alarm_problems
from .cost import cost_problems
from .forms.hints import names_at, ui_problems
from .options import option_problems
from .ports import normalized, port_problems
from .resource_types import ResourceTypeError, shipped
from .schema import (
    Resolver,
    check_params_schema,
    compile_validator,
    dialect_problems,
    param_errors,
    pointer,
    regex_warnings,
    walk,
)
from .schema.generate import generate_problems
from .schema.observed import observed_problems

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,50}[a-z0-9]$")
MODULE_MAX_BYTES = 10 * 1024 * 1024


class BundleError(Exception):
    """A bundle that cannot be loaded; ``problems`` each name the file and the place."""

    def __init__(self, path: Path | str, problems: list[str], warnings: list[str] | None = None):
        self.path = str(path)
        self.problems = problems
        self.warnings = list(warnings or [])
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass
class Manifest:
    path: Path
    name: str
    version: str
    title: str
    description: str
    category: str
    params: dict
    ui: dict
    presets: list
    connections: list
    artifacts: list
    runbook: str
    changelog: str
    icon: str
    module_archive: bytes
    module_sha256: str
    manifest_sha256: str
    module_variables: dict = field(default_factory=dict)
    module_outputs: dict = field(default_factory=dict)
    cost: dict = field(default_factory=dict)
    alarms: list = field(default_factory=list)
    # What lint notices without refusing: an undeclared dialect, ui hints Slipway draws its own way.
    warnings: list[str] = field(default_factory=list)


def module_archive(src: Path) -> bytes:
    """A reproducible tar.gz of a module directory."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = path.relative_to(src)
            if any(part.startswith(".terraform") or part == ".git" for part in rel.parts) or rel.suffix == ".tfstate":
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(rel.as_posix())
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _plain(body: dict) -> dict:
    """Keep the parts of a variable/output block the portal uses, as JSON-safe values."""
    keep = {}
    for key in ("type", "default", "description", "sensitive", "nullable"):
        if key in body:
            value = hcl.unquote(body[key])
            keep[key] = value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)
    if "validation" in body:
        keep["validation_count"] = len(body["validation"])
    return json.loads(json.dumps(keep, default=str))


META_SCHEMA_PATH = Path(__file__).resolve().parent / "bundle.schema.json"
META_SCHEMA = json.loads(META_SCHEMA_PATH.read_text())
WHERE = "bundle.yaml"


def _meta_problems(data: dict) -> list[str]:
    validator = Draft202012Validator(META_SCHEMA)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(f"{WHERE} {pointer(error.absolute_path) or '/'}: {error.message}")
    return problems


def _contract_problems(params: dict, connections: list, variables: dict[str, hcl.Block]) -> list[str]:
    """Params versus the module's variables: names, types, and every variable without a default covered."""
    walker = Resolver(params)  # the form engine's reading ($ref, allOf), so lint sees what the form draws
    properties = names_at(walker, params)  # conditional and variant fields are variables too
    required = set(params.get("required") or [])
    connected = {c.get("name") for c in connections if isinstance(c, dict)}
    problems = []
    for name, sub in properties.items():
        here = f"{WHERE} /params{pointer(('properties', name))}"
        block = variables.get(name)
        if block is None:
            problems.append(
                f"{here}: no variable {name!r} in src/*.tf; each top-level param is the module variable of that name"
            )
            continue
        try:
            declared = hcl.type_schema(block.body.get("type"))
        except hcl.HCLError as exc:
            problems.append(f"{block.where}: variable {name!r}: {exc}")
            continue
        want, have = hcl.json_kind(walker.nullable(walker.resolve(sub))[0]), hcl.json_kind(declared)
        if want and have and want != have:
            problems.append(
                f"{here}/type: the param is {want} but variable {name!r} at {block.where} is "
                f"{hcl.expression(block.body.get('type'))}"
            )
    for name, block in variables.items():
        if name == "slipway" or "default" in block.body:
            continue
        if name not in required and name not in connected:
            problems.append(
                f"{block.where}: variable {name!r} has no default, so it must be in {WHERE} /params/required "
                f"or be a connection"
            )
    return problems


_NO_VALUE_HERE = {
    "not": "`not` (a schema a value must fail)",
    "contains": "`contains` (a test over an array, not its items' place)",
    "propertyNames": "`propertyNames` (names, not values)",
    "if": "an `if` condition (put it on the property `then` or `else` describe)",
    "unevaluatedProperties": "`unevaluatedProperties` (use `additionalProperties` for a map of secrets)",
    "unevaluatedItems": "`unevaluatedItems` (use `items`)",
    "contentSchema": "`contentSchema`",
}


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")


def _raw_marks(schema, parts=(), via=()):
    """(pointer parts, keywords passed through, value) of every ``x-sensitive`` in ``schema``, wherever it is."""
    if isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from _raw_marks(sub, (*parts, index), via)
        return
    if not isinstance(schema, dict):
        return
    if "x-sensitive" in schema:
        yield parts, via, schema["x-sensitive"]
    for key, sub in schema.items():
        if key in ("x-sensitive", "default", "examples", "const", "enum"):
            continue
        if key in _SCHEMA_MAPS and isinstance(sub, dict):
            for name, item in sub.items():
                yield from _raw_marks(item, (*parts, key, name), (*via, key))
        else:
            yield from _raw_marks(sub, (*parts, key), (*via, key))


def _sensitive_problems(params: dict) -> list[str]:
    """``x-sensitive`` where the schema walk (and so storage, the API, logs and history) cannot find the values
    it marks: such a bundle would keep its secrets in clear, so lint refuses it."""
    walked = {node.pointer: node for node in walk(params)}
    problems = []
    for parts, via, value in _raw_marks(params):
        here = f"{WHERE} /params{pointer(parts)}/x-sensitive"
        if not isinstance(value, bool):
            problems.append(f"{here}: must be true or false, not {value!r}")
            continue
        if value is False:
            continue
        if not parts:
            problems.append(f"{here}: the whole params object cannot be sensitive; mark the fields that are")
            continue
        keyword = next((k for k in via if k in _NO_VALUE_HERE), None)
        node = walked.get(pointer(parts))
        if keyword is not None or (node is None and parts[0] not in ("$defs", "definitions")):
            where = _NO_VALUE_HERE.get(keyword or "", "a place deeper than the schema walk reaches")
            problems.append(
                f"{here}: inside {where}, it marks no value Slipway can find, so the secret would be kept in clear"
            )
            continue
        if node is not None and any(k in node.schema for k in ("default", "examples", "const")):
            problems.append(
                f"{here}: a secret cannot have a `default`, `examples` or `const` in the bundle, where anyone reads it"
            )
    return problems


def _examples(schema):
    """(pointer, schema, example) for every ``examples`` entry of a subschema (each place once)."""
    seen = set()
    for node in walk(schema):
        if isinstance(node.schema.get("examples"), list) and node.pointer not in seen:
            seen.add(node.pointer)
            for index, example in enumerate(node.schema["examples"]):
                yield f"{node.pointer}/examples/{index}", node.schema, example


def _value_problems(params: dict, presets: list) -> list[str]:
    problems = []
    for index, preset in enumerate(presets):
        if not isinstance(preset, dict):
            continue
        for where, messages in param_errors(params, preset.get("params") or {}).items():
            kept = [m for m in messages if m != "This field is required."]  # presets may be partial
            if kept:
                name = preset.get("name", index)
                problems.append(f"{WHERE} /presets/{index}/params{where} (preset {name!r}): {'; '.join(kept)}")
    validator = compile_validator(params)
    for where, sub, example in _examples(params):
        if sub is params:
            errors = param_errors(params, example)
            for at, messages in errors.items():
                problems.append(f"{WHERE} /params{where}{at}: example does not validate: {'; '.join(messages)}")
            continue
        for error in validator.evolve(schema=sub).iter_errors(example):
            problems.append(f"{WHERE} /params{where}: example does not validate: {error.message}")
    return problems


def lint_inputs(params: dict, ui, presets: list) -> tuple[list[str], list[str]]:
    """(problems, warnings) for what a bundle's author writes about its inputs, module aside: the params
    schema (dialect, regexes), presets and examples against it, and the rjsf ``ui``. Each names
    ``bundle.yaml`` and its JSON pointer."""
    problems = [
        f"{WHERE} /params{p}" if p.startswith("/") else f"{WHERE} /params: {p}" for p in check_params_schema(params)
    ]
    warnings = [f"{WHERE} /params: {note}" for note in dialect_problems(params)[1]]
    warnings += [f"{WHERE} /params{note}" for note in regex_warnings(params)]
    if problems:
        return problems, warnings
    problems += _value_problems(params, presets)
    problems += [f"{WHERE} /params{p}" for p in generate_problems(params)]
    ui_errors, ui_warnings = ui_problems(Resolver(params), ui, params)
    problems += [f"{WHERE} {p}" for p in ui_errors]
    warnings += [f"{WHERE} {w}" for w in ui_warnings]
    return problems, warnings


def read_bundle(path: Path | str) -> Manifest:
    """Parse and lint a bundle directory: every check in the bundle format. Raises BundleError listing all problems.

    ``manage.py lint_bundle``, ``sync_bundles`` and the admin upload all come through here, so a
    bundle is held to the same rules whichever door it comes in by.
    """
    root = Path(path)
    manifest_file = root / "bundle.yaml"
    src = root / "src"
    if not manifest_file.is_file():
        raise BundleError(root, ["bundle.yaml is missing"])
    raw_text = manifest_file.read_text()
    try:
        data = yaml.safe_load(raw_text) or {}
    except yaml.YAMLError as exc:
        raise BundleError(manifest_file, [f"invalid YAML: {exc}"]) from exc
    except RecursionError as exc:
        raise BundleError(manifest_file, ["invalid YAML: nested too deep to read"]) from exc
    if not isinstance(data, dict):
        raise BundleError(manifest_file, ["must be a mapping of keys"])

    unstorable = value_problems(data)
    if unstorable:  # a NUL, a lone surrogate, an infinite number, nesting too deep: no other check can run
        raise BundleError(
            manifest_file, [f"{WHERE} {where or '/'}: {'; '.join(msgs)}" for where, msgs in unstorable.items()]
        )
    problems: list[str] = _meta_problems(data)
    name = str(data.get("name", ""))
    if not NAME_RE.match(name) and not any(p.startswith(f"{WHERE} /name") for p in problems):
        problems.append(f"{WHERE} /name: {name!r} must match {NAME_RE.pattern}")
    version = str(data.get("version", ""))
    try:
        semver.parse(version)
    except ValueError as exc:
        problems.append(f"{WHERE} /version: {exc}")
    params = data.get("params") or {}
    schema_problems = check_params_schema(params)
    warnings: list[str] = []
    problems += [f"{WHERE} /params{p}" if p.startswith("/") else f"{WHERE} /params: {p}" for p in schema_problems]
    if not src.is_dir():
        problems.append("src: the module directory is missing")
        raise BundleError(root, problems)
    size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    if size > MODULE_MAX_BYTES:
        problems.append(f"src: module is {size} bytes, over the {MODULE_MAX_BYTES} byte limit")
    try:
        variables = hcl.blocks(src, "variable")
        outputs = hcl.blocks(src, "output")
        resources = hcl.resource_addresses(src)
    except hcl.HCLError as exc:
        raise BundleError(root, [*problems, str(exc)]) from exc
    connections = data.get("connections") if isinstance(data.get("connections"), list) else []
    artifacts = data.get("artifacts") if isinstance(data.get("artifacts"), list) else []
    if not schema_problems and isinstance(params, dict):
        presets = data.get("presets") if isinstance(data.get("presets"), list) else []
        problems += _contract_problems(params, connections, variables)
        problems += _sensitive_problems(params)
        found, warnings = lint_inputs(params, data.get("ui") or {}, presets)
        problems += found
        problems += [f"{WHERE} /params{p}" for p in observed_problems(params, resources)]
        problems += cost_problems(data.get("cost"), params)
        problems += alarm_problems(
            data.get("alarms"), params, resources=resources, runbook=runbook_bytes(root).decode(errors="replace")
        )
    try:
        registry = shipped()
    except ResourceTypeError as exc:
        registry = {}
        problems += [f"{exc.path}: {p}" for p in exc.problems]
    ports_checked = not any(p.startswith((f"{WHERE} /connections", f"{WHERE} /artifacts")) for p in problems)
    if ports_checked:
        problems += port_problems(
            connections=connections,
            artifacts=artifacts,
            params=params if isinstance(params, dict) else {},
            variables=variables,
            outputs=outputs,
            registry=registry,
        )
        if not schema_problems and isinstance(params, dict):
            problems += option_problems(params, connections, registry)
    if problems:
        raise BundleError(root, problems, warnings)

    runbook = root / "operator.md"
    icon = root / "icon.svg"
    connections, artifacts = normalized(connections, artifacts, registry)
    archive = module_archive(src)
    canonical = json.dumps(data, sort_keys=True, default=str).encode()
    return Manifest(
        path=root,
        name=name,
        version=version,
        title=str(data.get("title") or name),
        description=str(data.get("description") or ""),
        category=str(data.get("category") or ""),
        params=params,
        ui=data.get("ui") or {},
        presets=data.get("presets") or [],
        connections=connections,
        artifacts=artifacts,
        runbook=runbook.read_text() if runbook.is_file() else "",
        changelog=str(data.get("changelog") or ""),
        icon=icon.read_text() if icon.is_file() else "",
        module_archive=archive,
        module_sha256=hashlib.sha256(archive).hexdigest(),
        manifest_sha256=hashlib.sha256(canonical + runbook_bytes(root)).hexdigest(),
        module_variables={n: {"file": b.file.removeprefix("src/"), **_plain(b.body)} for n, b in variables.items()},
        module_outputs={n: {"file": b.file.removeprefix("src/"), **_plain(b.body)} for n, b in outputs.items()},
        warnings=warnings,
        cost=data.get("cost") or {},
        alarms=data.get("alarms") or [],
    )


def find_bundles(path: Path | str) -> list[Path]:
    """The bundle directories at ``path``: itself, its children, or its children's version folders.

    A catalog keeps each published version in a folder of its own (``catalog/postgres/1.0.0/``,
    ``catalog/postgres/2.0.0/``) so old versions stay loadable; a flat ``catalog/NAME/`` works too.
    Ordered by name, then version, oldest first.
    """
    root = Path(path)
    if (root / "bundle.yaml").is_file():
        return [root]
    found = sorted({p.parent for pattern in ("*/bundle.yaml", "*/*/bundle.yaml") for p in root.glob(pattern)})

    def order(directory: Path):
        try:
            parsed = semver.parse(directory.name)
            return (directory.parent.name, 1, parsed.major, parsed.minor, parsed.patch, parsed.prerelease or "~")
        except ValueError:
            return (directory.name, 0, 0, 0, 0, "")

    return sorted(found, key=order)


def runbook_bytes(root: Path) -> bytes:
    runbook = root / "operator.md"
    return runbook.read_bytes() if runbook.is_file() else b""


def extract_archive(archive: bytes, dest: Path) -> None:
    """Unpack a stored module archive (written by us, so trusted) into ``dest``."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
