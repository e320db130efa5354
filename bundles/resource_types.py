"""Resource types: the typed payloads deployments pass to each other through connections.

A resource type is a file, ``bundles/resource-types/<name>.yaml``: a title, an icon, a description and
a payload schema in two parts, ``specs`` (non-sensitive: shown, searchable in the estate) and ``data``
(may hold ``x-sensitive`` values, stored encrypted). A payload is ``{"specs": {...}, "data": {...}}``.

Like a bundle version, a published resource type version never changes: the same version with other
content is refused, and a change is published under a new version. ``sync_bundles`` publishes the
shipped types before the bundles, and bundle lint reads the types from the same files, so a bundle
is checked against the types it will be published next to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from django.conf import settings
from jsonschema import Draft202012Validator

from . import semver
from .schema import check_params_schema, pointer, sensitive_values, walk

META_SCHEMA = json.loads((Path(__file__).resolve().parent / "resource-type.schema.json").read_text())
PARTS = ("specs", "data")


class ResourceTypeError(Exception):
    """A resource type file that cannot be loaded; ``problems`` each name the place."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass(frozen=True)
class TypeManifest:
    path: Path
    name: str
    version: str
    title: str
    description: str
    icon: str
    specs: dict
    data: dict
    sha256: str

    @property
    def payload_schema(self) -> dict:
        return payload_schema(self.specs, self.data)


def payload_schema(specs: dict, data: dict) -> dict:
    """The whole payload as one JSON Schema: ``{specs, data}``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(PARTS),
        "properties": {"specs": specs, "data": data},
    }


def read_resource_type(path: Path | str) -> TypeManifest:
    """Parse and lint one resource type file. Raises ResourceTypeError listing every problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ResourceTypeError(path, [f"cannot be read: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ResourceTypeError(path, ["must be a mapping of keys"])
    problems = [
        f"{pointer(e.absolute_path) or '/'}: {e.message}"
        for e in sorted(Draft202012Validator(META_SCHEMA).iter_errors(raw), key=lambda e: list(map(str, e.path)))
    ]
    try:
        semver.parse(str(raw.get("version", "")))
    except ValueError as exc:
        problems.append(f"/version: {exc}")
    if raw.get("name") and path.stem != raw.get("name"):
        problems.append(f"/name: {raw.get('name')!r} must be the file's name ({path.stem}.yaml)")
    for part in PARTS:
        schema = raw.get(part)
        if not isinstance(schema, dict):
            continue
        problems += [f"/{part}{p}" if p.startswith("/") else f"/{part}: {p}" for p in check_params_schema(schema)]
        if part == "specs":
            for node in walk(schema):
                if node.schema.get("x-sensitive") is True:
                    problems.append(
                        f"/specs{node.pointer}: specs are shown and searchable, so they cannot be x-sensitive; "
                        "move this field to data"
                    )
    if problems:
        raise ResourceTypeError(path, problems)
    canonical = json.dumps(raw, sort_keys=True).encode()
    return TypeManifest(
        path=path,
        name=raw["name"],
        version=str(raw["version"]),
        title=raw["title"],
        description=str(raw.get("description") or ""),
        icon=str(raw.get("icon") or ""),
        specs=raw["specs"],
        data=raw["data"],
        sha256=hashlib.sha256(canonical).hexdigest(),
    )


def find_resource_types(path: Path | str) -> list[Path]:
    """The resource type files at ``path``: the file itself, or every ``*.yaml`` in the folder."""
    root = Path(path)
    if root.is_file():
        return [root]
    return sorted(root.glob("*.yaml"))


@lru_cache(maxsize=8)
def _registry(directory: str, stamp: tuple) -> dict[str, TypeManifest]:
    return {m.name: m for m in (read_resource_type(p) for p in find_resource_types(directory))}


def shipped(directory: Path | str | None = None) -> dict[str, TypeManifest]:
    """The resource types in the shipped folder (``SLIPWAY_RESOURCE_TYPES_DIR``), by name: what bundle lint
    checks connections and artifacts against. Re-read when a file changes."""
    directory = Path(directory or settings.SLIPWAY_RESOURCE_TYPES_DIR)
    files = find_resource_types(directory) if directory.is_dir() else []
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _registry(str(directory), stamp)


def sensitive_pointers(data_schema: dict, data: dict) -> list[str]:
    """Pointers of the ``x-sensitive`` values in a payload's ``data``."""
    return [where for where, value, _ in sensitive_values(data_schema, data) if value is not None]
