"""``x-observed-from``: the resource attribute a param's value can be read back from (drift is accepted
through it). One reading of the keyword, for lint and for ``deployments.drift``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .walk import ANY, walk

KEY = "x-observed-from"
# "<type>.<name>.<attribute path>", optionally inside modules ("module.<name>." first); an index on the
# resource ("sandbox_bucket.logs[0]" or '["a"]') is allowed.
SOURCE_RE = re.compile(r"^(module\.[A-Za-z_][\w-]*\.)*[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*(\[[^\]]+\])?(\.[\w-]+)+$")


@dataclass(frozen=True)
class Source:
    path: tuple[str, ...]  # where the param is in the params (property names)
    source: str  # "<resource address>.<attribute path>"
    title: str
    pointer: str  # where the keyword is in the schema (for lint messages)


def observed_sources(schema: dict) -> list[Source]:
    """Every param that declares where its value is observed, by its path in the params."""
    found: dict[tuple, Source] = {}
    for node in walk(schema):
        source = node.schema.get(KEY)
        if isinstance(source, str) and source and node.path and ANY not in node.path:
            path = tuple(str(p) for p in node.path)
            title = str(node.schema.get("title") or path[-1])
            found.setdefault(path, Source(path, source.strip(), title, node.pointer))
    return list(found.values())


def observed_problems(schema: dict, resources: set[str]) -> list[str]:
    """Lint: each ``x-observed-from`` is a string naming a resource the module declares (``resources`` holds
    ``type.name`` of each), on a param that is not inside an array or a map (those have no single value)."""
    problems = []
    for node in walk(schema):
        if KEY not in node.schema:
            continue
        source = node.schema[KEY]
        where = f"{node.pointer}/{KEY}"
        if not isinstance(source, str) or not SOURCE_RE.match(source.strip()):
            problems.append(f"{where}: must be '<type>.<name>.<attribute>', e.g. sandbox_database.main.storage_gb")
            continue
        if ANY in node.path or not node.path:
            problems.append(f"{where}: only a param with one value (not inside an array or a map) can be observed")
            continue
        parts = [p for p in source.split(".") if p]
        while parts and parts[0] == "module":
            parts = parts[2:]
        address = ".".join(parts[:2]).split("[")[0]
        if not source.startswith("module.") and address not in resources:
            known = ", ".join(sorted(resources)) or "none"
            problems.append(f"{where}: the module declares no resource {address} (it declares: {known})")
    return problems
