"""Sensitive params (``x-sensitive: true``): encrypted at rest, masked everywhere else.

A deployment's ``params`` (and its history, and each run's snapshot) hold a mask in place of
each sensitive value. The mask carries a keyed fingerprint, so history still shows *that* a
secret changed without showing what it is. The values themselves live encrypted beside them.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

from django.conf import settings

from portal.crypto import decrypt, encrypt

MASK_PREFIX = "(sensitive:"


def _fingerprint(value: Any) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), json.dumps(value).encode(), hashlib.sha256).hexdigest()
    return f"{MASK_PREFIX}{digest[:8]})"


def is_mask(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MASK_PREFIX) and value.endswith(")")


def sensitive_paths(schema: dict, prefix: tuple = ()) -> list[tuple]:
    """Paths (tuples of keys) of every x-sensitive property, nested objects included."""
    paths = []
    for name, sub in (schema.get("properties") or {}).items() if isinstance(schema, dict) else []:
        if not isinstance(sub, dict):
            continue
        if sub.get("x-sensitive"):
            paths.append((*prefix, name))
        elif sub.get("type") == "object" or "properties" in sub:
            paths += sensitive_paths(sub, (*prefix, name))
    return paths


def _get(params: dict, path: tuple) -> tuple[bool, Any]:
    node: Any = params
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _set(params: dict, path: tuple, value: Any) -> None:
    node = params
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def split(schema: dict, params: dict) -> tuple[dict, bytes | None]:
    """(params with masks, encrypted secrets or None)."""
    masked = copy.deepcopy(params)
    secrets: dict[str, Any] = {}
    for path in sensitive_paths(schema):
        found, value = _get(params, path)
        if found and value is not None:
            secrets[json.dumps(list(path))] = value
            _set(masked, path, _fingerprint(value))
    return masked, (encrypt(json.dumps(secrets).encode()) if secrets else None)


def merge(params: dict, encrypted: bytes | None) -> dict:
    """The real params: masks replaced by the decrypted values."""
    full = copy.deepcopy(params)
    if not encrypted:
        return full
    for key, value in json.loads(decrypt(bytes(encrypted))).items():
        path = tuple(json.loads(key))
        found, _ = _get(full, path)
        if found:
            _set(full, path, value)
    return full


def values(encrypted: bytes | None) -> list[Any]:
    """The values of an encrypted ``{name or path: value}`` map (secret params, sensitive outputs)."""
    if not encrypted:
        return []
    return list(json.loads(decrypt(bytes(encrypted))).values())
