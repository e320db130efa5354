"""Sensitive params (``x-sensitive: true``): encrypted at rest, masked everywhere else.

A deployment's ``params`` (and its history, each run's snapshot, an exception request) hold a mask
in place of each sensitive value, at the value's own place: a property, an array item, a field of a
``oneOf`` variant, a map value, a ``$ref``'d definition (the schema package finds them all:
:func:`bundles.schema.sensitive_values`). The mask carries a keyed fingerprint, so history still
shows *that* a secret changed without showing what it is. The values themselves are stored beside
the params, encrypted, keyed by their JSON pointer.

Params that come back with masks in them (an API client sending what it read, a restore of a past
configuration) are :func:`unmask`-ed first: each mask is swapped for the value it stands for, found
by its fingerprint among the secrets Slipway holds.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from jsonpointer import JsonPointer

from bundles.schema import sensitive_values
from portal.crypto import decrypt, encrypt
from portal.errors import ParamsInvalid

MASK_PREFIX = "(sensitive:"
_MISSING = object()


def fingerprint(value: Any) -> str:
    """The mask shown for ``value``: the same value always gets the same mask."""
    digest = hmac.new(settings.SECRET_KEY.encode(), json.dumps(value).encode(), hashlib.sha256).hexdigest()
    return f"{MASK_PREFIX}{digest[:8]})"


def is_mask(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MASK_PREFIX) and value.endswith(")")


def _stored(encrypted: bytes | None) -> dict[str, Any]:
    """The ``{pointer: value}`` map of an encrypted blob. Blobs written before pointers kept a JSON list of
    keys (``["db", "password"]``); they read as the same pointer."""
    if not encrypted:
        return {}
    out = {}
    for key, value in json.loads(decrypt(bytes(encrypted))).items():
        out[JsonPointer.from_parts(json.loads(key)).path if key.startswith("[") else key] = value
    return out


def split(schema: dict, params: dict) -> tuple[dict, bytes | None]:
    """(params with every sensitive value masked, those values encrypted, or None when there are none)."""
    masked = copy.deepcopy(params)
    secrets: dict[str, Any] = {}
    for where, value, _ in sensitive_values(schema, params):
        if value is None:
            continue
        secrets[where] = value
        if where:
            JsonPointer(where).set(masked, fingerprint(value))
    return masked, (encrypt(json.dumps(secrets).encode()) if secrets else None)


def stored(schema: dict, params: dict) -> dict[str, Any]:
    """The two columns a record keeps params in (``params`` masked, ``sensitive_params`` encrypted)."""
    masked, encrypted = split(schema, params)
    return {"params": masked, "sensitive_params": encrypted}


def _masks(doc: Any, parts: tuple = ()) -> Iterable[tuple[str, str]]:
    """(pointer, mask) of every mask in ``doc``."""
    if is_mask(doc):
        yield JsonPointer.from_parts([str(p) for p in parts]).path, doc
    elif isinstance(doc, dict):
        for key, item in doc.items():
            yield from _masks(item, (*parts, key))
    elif isinstance(doc, list):
        for index, item in enumerate(doc):
            yield from _masks(item, (*parts, index))


def merge(params: dict, encrypted: bytes | None) -> dict:
    """The real params: each mask replaced by the value stored for it (at its pointer, else by fingerprint)."""
    full = copy.deepcopy(params)
    stored = _stored(encrypted)
    if not stored:
        return full
    by_mask = {fingerprint(value): value for value in stored.values()}
    for where, mask in _masks(full):
        at_pointer = stored.get(where, _MISSING)
        value = at_pointer
        if value is _MISSING or fingerprint(value) != mask:
            # A row moved (an array item removed before it): the value is found by its mask. When no
            # mask matches, the masks were made under another SECRET_KEY: the pointer still holds it.
            value = by_mask.get(mask, at_pointer)
        if value is not _MISSING:
            if where:
                JsonPointer(where).set(full, copy.deepcopy(value))
            else:
                full = copy.deepcopy(value)
    return full


RULE = (
    "Sensitive values (x-sensitive) are write-only: they are never returned, only a mask such as "
    '"(sensitive:1a2b3c4d)" in their place. Send a mask back, as read, to keep the secret unchanged; send a new '
    "value to replace it; send null to remove it. Params are the whole configuration: a secret left out is "
    "removed like any other field. A mask Slipway does not hold any more is refused: type the secret again."
)


def unmask(schema: dict, params: Any, known: Callable[[], Iterable[bytes | None]]) -> Any:
    """The one rule for secrets sent in (:data:`RULE`), shared by the form, the API, the CLI, restore, bulk changes
    and exception requests: each mask in a sensitive place becomes the secret it stands for, looked up by
    fingerprint in the encrypted blobs ``known()`` returns (called only when there is a mask); an explicit
    ``null`` in a sensitive place is removed (the key, or the array item); any other value is the new secret.
    A mask no known secret matches is refused at its pointer: the value is gone and must be typed again."""
    if not isinstance(params, dict):
        return params
    found = sensitive_values(schema, params)
    masked = [(where, value) for where, value, _ in found if is_mask(value)]
    removed = [where for where, value, _ in found if value is None and where]
    if not masked and not removed:
        return params
    full = copy.deepcopy(params)
    if masked:
        by_mask = {fingerprint(v): v for blob in known() for v in _stored(blob).values()}
        missing = {}
        for where, mask in masked:
            if mask in by_mask:
                JsonPointer(where).set(full, copy.deepcopy(by_mask[mask]))
            else:
                missing[where] = ["This secret is not stored any more (only its mask is): type it again."]
        if missing:
            raise ParamsInvalid(missing, "Some secrets must be typed again.")
    # Removed last to first, so that removing an array item does not move the ones still to remove.
    for where in sorted(
        removed, key=lambda w: [int(p) if p.isdigit() else -1 for p in JsonPointer(w).parts], reverse=True
    ):
        pointer = JsonPointer(where)
        parent = JsonPointer.from_parts(pointer.parts[:-1]).resolve(full, None)
        if isinstance(parent, dict):
            parent.pop(pointer.parts[-1], None)
        elif isinstance(parent, list) and pointer.parts[-1].isdigit() and int(pointer.parts[-1]) < len(parent):
            del parent[int(pointer.parts[-1])]
    return full


def values(encrypted: bytes | None) -> list[Any]:
    """The values of an encrypted ``{pointer or name: value}`` map (secret params, sensitive outputs)."""
    if not encrypted:
        return []
    return list(json.loads(decrypt(bytes(encrypted))).values())


def present(schema: dict, params: dict) -> set[str]:
    """Pointers of the sensitive values ``params`` holds (a mask stands there): what a form says is stored."""
    return {where for where, value, _ in sensitive_values(schema, params) if value is not None}
