"""Key-by-key differences between two parameter documents.

A small differ rather than a library: the estate diff compares tens of thousands of documents
per request, and this walk costs microseconds each. Paths read the way people write them in
the estate query language: ``storage.size_gb``, ``allowed_cidrs[2]``; a key that is not a plain
identifier is quoted: ``tags["cost-center"]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
_MISSING = object()
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    kind: str  # added | removed | changed
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


@lru_cache(maxsize=8192)  # the same few paths recur across tens of thousands of documents
def _key_path(prefix: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key)}]"


def _same(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python; in a configuration they are different values.
    return type(a) is type(b) and a == b


def diff_params(old: Any, new: Any, path: str = "") -> list[Change]:
    """Every leaf-level difference from ``old`` to ``new``, in a stable order.

    Objects are compared key by key (recursively); arrays item by item at the same index, with
    items past the shorter array reported as added or removed; anything else (including a change
    of type) is one ``changed`` entry at that path. ``None`` is a value, not an absence.
    """
    changes: list[Change] = []
    _walk(old, new, path, changes)
    return changes


def _walk(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            sub = _key_path(path, str(key))
            if key not in new:
                out.append(Change(sub, REMOVED, old=old[key]))
            else:
                _walk(old[key], new[key], sub, out)
        for key in new:
            if key not in old:
                out.append(Change(_key_path(path, str(key)), ADDED, new=new[key]))
        return
    if isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            sub = f"{path}[{index}]"
            if index >= len(new):
                out.append(Change(sub, REMOVED, old=old[index]))
            elif index >= len(old):
                out.append(Change(sub, ADDED, new=new[index]))
            else:
                _walk(old[index], new[index], sub, out)
        return
    if not _same(old, new):
        out.append(Change(path or "(whole document)", CHANGED, old=old, new=new))


def summarize(changes: list[Change]) -> str:
    """A one-line human summary, e.g. ``size_gb 20 → 40; tags.env added``."""
    parts = []
    for change in changes:
        if change.kind == ADDED:
            parts.append(f"{change.path} added ({_short(change.new)})")
        elif change.kind == REMOVED:
            parts.append(f"{change.path} removed")
        else:
            parts.append(f"{change.path} {_short(change.old)} → {_short(change.new)}")
    return "; ".join(parts)


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


CONNECTIONS = "connections"


def diff_connections(old: dict | None, new: dict | None) -> list[Change]:
    """A deployment's connections (``{name: producer id}``) from ``old`` to ``new``, as changes at
    ``connections.NAME`` whose values are the producers' ids (``audit.selectors.producers`` names them)."""
    return diff_params(old or {}, new or {}, CONNECTIONS)
