"""A bulk change's edit to params: set or unset paths (JSON pointers), applied with jsonpatch."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
from jsonpointer import JsonPointer, JsonPointerException

from portal.errors import ServiceError

from ..models import BulkChange

_MISSING = object()


def clean_patch(patch: Any) -> list[dict]:
    """Check a change list: ``[{"op": "set", "path": "/a/b", "value": ...}, {"op": "unset", "path": "/c"}]``."""
    if not isinstance(patch, list):
        raise ServiceError("The change must be a list of set/unset operations.", field="patch")
    cleaned = []
    for index, item in enumerate(patch):
        if not isinstance(item, dict) or item.get("op") not in ("set", "unset"):
            raise ServiceError(f"Change {index + 1}: op must be 'set' or 'unset'.", field="patch")
        path = item.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise ServiceError(f"Change {index + 1}: path must be a JSON pointer such as /storage/size.", field="patch")
        try:
            JsonPointer(path)
        except JsonPointerException as exc:
            raise ServiceError(f"Change {index + 1}: {exc}", field="patch") from exc
        if item["op"] == "set" and "value" not in item:
            raise ServiceError(f"Change {index + 1}: set needs a value.", field="patch")
        cleaned.append({"op": item["op"], "path": path, **({"value": item["value"]} if item["op"] == "set" else {})})
    return cleaned


def apply_patch(params: dict, patch: list[dict]) -> dict:
    """The params with the change applied: ``set`` creates missing parent objects, ``unset`` of a missing
    path is a no-op."""
    doc = copy.deepcopy(params)
    for item in patch:
        pointer = JsonPointer(item["path"])
        if item["op"] == "unset":
            if pointer.resolve(doc, _MISSING) is not _MISSING:
                doc = jsonpatch.apply_patch(doc, [{"op": "remove", "path": item["path"]}])
            continue
        ops = []
        for depth in range(1, len(pointer.parts)):
            parent = JsonPointer.from_parts(pointer.parts[:depth])
            if not isinstance(parent.resolve(doc, None), dict):
                ops.append({"op": "add", "path": parent.path, "value": {}})
                doc = jsonpatch.apply_patch(doc, ops[-1:])
        doc = jsonpatch.apply_patch(doc, [{"op": "add", "path": item["path"], "value": item["value"]}])
    return doc


def describe_change(bulk: BulkChange) -> str:
    parts = []
    for item in bulk.patch:
        if item["op"] == "set":
            parts.append(f"set {item['path']} = {json.dumps(item['value'])}")
        else:
            parts.append(f"unset {item['path']}")
    if bulk.target_version_id:
        parts.append(f"move to {bulk.target_version}")
    return "; ".join(parts) or "no change"
