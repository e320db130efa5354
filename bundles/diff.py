"""Differences between two params schemas, for the admin's version comparison."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from .schema import pointer


@dataclass
class Change:
    kind: str  # added, removed, changed
    pointer: str
    old: Any = None
    new: Any = None

    @property
    def old_json(self) -> str:
        return json.dumps(self.old, sort_keys=True)

    @property
    def new_json(self) -> str:
        return json.dumps(self.new, sort_keys=True)


def schema_changes(old: Any, new: Any, path: tuple = ()) -> list[Change]:
    """Key-by-key changes from ``old`` to ``new``, each at its JSON pointer."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in new:
                changes.append(Change("removed", pointer((*path, key)), old=old[key]))
            elif key not in old:
                changes.append(Change("added", pointer((*path, key)), new=new[key]))
            else:
                changes += schema_changes(old[key], new[key], (*path, key))
        return changes
    if old != new or type(old) is not type(new):
        return [Change("changed", pointer(path) or "/", old=old, new=new)]
    return []


def unified(old: Any, new: Any, old_name: str, new_name: str) -> str:
    """A unified text diff of the two schemas, pretty-printed with sorted keys."""
    a = json.dumps(old, indent=2, sort_keys=True).splitlines()
    b = json.dumps(new, indent=2, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(a, b, old_name, new_name, lineterm=""))
