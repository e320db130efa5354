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

import hcl2
import yaml

from . import semver
from .schema import check_params_schema, param_errors

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,50}[a-z0-9]$")
MODULE_MAX_BYTES = 10 * 1024 * 1024


class BundleError(Exception):
    """A bundle that cannot be loaded; ``problems`` each name the file and the place."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
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


def _hcl_blocks(src: Path, kind: str) -> dict[str, dict]:
    """Top-level ``variable`` or ``output`` blocks of every .tf file, by name."""
    found: dict[str, dict] = {}
    for tf in sorted(src.glob("*.tf")):
        try:
            parsed = hcl2.loads(tf.read_text())
        except Exception as exc:  # python-hcl2 raises lark errors of several kinds
            raise BundleError(tf, [f"cannot parse HCL: {exc}"]) from exc
        for block in parsed.get(kind, []):
            for name, body in block.items():
                found[name.strip('"')] = {"file": tf.name, **_plain(body)}
    return found


def _plain(body: dict) -> dict:
    """Keep the parts of a variable/output block the portal uses, as JSON-safe values."""
    keep = {}
    for key in ("type", "default", "description", "sensitive", "nullable"):
        if key in body:
            value = body[key]
            if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]  # python-hcl2 keeps the quotes of string literals
            keep[key] = value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)
    if "validation" in body:
        keep["validation_count"] = len(body["validation"])
    return json.loads(json.dumps(keep, default=str))


def read_bundle(path: Path | str) -> Manifest:
    """Parse and check a bundle directory. Raises BundleError listing every problem found."""
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
    if not isinstance(data, dict):
        raise BundleError(manifest_file, ["must be a mapping of keys"])

    problems: list[str] = []
    where = "bundle.yaml"
    if data.get("schema") != "slipway/bundle/v1":
        problems.append(f"{where} /schema: must be 'slipway/bundle/v1'")
    name = str(data.get("name", ""))
    if not NAME_RE.match(name):
        problems.append(f"{where} /name: {name!r} must match {NAME_RE.pattern}")
    version = str(data.get("version", ""))
    try:
        semver.parse(version)
    except ValueError as exc:
        problems.append(f"{where} /version: {exc}")
    params = data.get("params") or {}
    problems += [
        f"{where} /params{p}" if p.startswith("/") else f"{where} /params: {p}" for p in check_params_schema(params)
    ]
    if not src.is_dir():
        problems.append(f"{root}/src: the module directory is missing")
        raise BundleError(root, problems)
    size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    if size > MODULE_MAX_BYTES:
        problems.append(f"{src}: module is {size} bytes, over the {MODULE_MAX_BYTES} byte limit")

    variables = _hcl_blocks(src, "variable")
    outputs = _hcl_blocks(src, "output")
    if not problems:
        for index, preset in enumerate(data.get("presets") or []):
            for pointer_, messages in param_errors(params, preset.get("params", {})).items():
                if messages == ["This field is required."]:
                    continue  # presets may be partial
                problems.append(f"{where} /presets/{index}/params{pointer_}: {'; '.join(messages)}")
    if problems:
        raise BundleError(root, problems)

    runbook = root / "operator.md"
    icon = root / "icon.svg"
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
        connections=data.get("connections") or [],
        artifacts=data.get("artifacts") or [],
        runbook=runbook.read_text() if runbook.is_file() else "",
        changelog=str(data.get("changelog") or ""),
        icon=icon.read_text() if icon.is_file() else "",
        module_archive=archive,
        module_sha256=hashlib.sha256(archive).hexdigest(),
        manifest_sha256=hashlib.sha256(canonical + runbook_bytes(root)).hexdigest(),
        module_variables=variables,
        module_outputs=outputs,
    )


def runbook_bytes(root: Path) -> bytes:
    runbook = root / "operator.md"
    return runbook.read_bytes() if runbook.is_file() else b""


def extract_archive(archive: bytes, dest: Path) -> None:
    """Unpack a stored module archive (written by us, so trusted) into ``dest``."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
