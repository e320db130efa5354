"""Checks on what clients send: a resource's name, its attributes against its kind, its tags.

Errors map to JSON pointers into the request body (``/attributes/storage_gb``), as Slipway's own
API does, so a client shows each message beside its field.
"""

from __future__ import annotations

import math
import re
from typing import Any

from jsonschema import Draft202012Validator

from .errors import Invalid
from .kinds import KINDS, NAME_PATTERN, NAME_RULE, Kind

_VALIDATORS: dict[tuple[str, bool], Draft202012Validator] = {}
MAX_TAGS = 50


def _validator(kind: Kind, *, partial: bool) -> Draft202012Validator:
    key = (kind.name, partial)
    if key not in _VALIDATORS:
        schema = {
            "type": "object",
            "properties": {f.name: f.json_schema() for f in kind.fields},
            "additionalProperties": False,
            "required": [] if partial else [f.name for f in kind.fields if f.required],
        }
        _VALIDATORS[key] = Draft202012Validator(schema)
    return _VALIDATORS[key]


def _pointer(*parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _message(error) -> str:
    """A sentence a person reads, for the keywords our schemas use."""
    validator, expected = error.validator, error.validator_value
    if validator == "minimum":
        return f"Must be at least {expected}."
    if validator == "maximum":
        return f"Must be at most {expected}."
    if validator == "enum":
        return "Must be one of: " + ", ".join(str(v) for v in expected) + "."
    if validator == "pattern":
        return f"Does not match the expected format ({expected})."
    if validator == "maxLength":
        return f"Must be at most {expected} characters."
    if validator in ("type", "anyOf"):
        wanted = expected if validator == "type" else error.schema["anyOf"][0].get("type")
        return {
            "integer": "Must be a whole number.",
            "number": "Must be a number.",
            "boolean": "Must be true or false.",
        }.get(wanted, f"Must be a {wanted}.")
    return error.message


def refuse_bad_text(value: Any, where: str = "") -> None:
    """NUL characters and lone surrogates cannot be stored (PostgreSQL refuses them): a 400, not a 500."""
    if isinstance(value, str):
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise Invalid("The request holds characters that cannot be stored.", {where or "/": ["Invalid character."]})
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_bad_text(key, where)
            refuse_bad_text(item, where + _pointer(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_bad_text(item, f"{where}/{index}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise Invalid("Numbers must be finite.", {where or "/": ["Must be a finite number."]})


def kind_named(name: Any) -> Kind:
    if not isinstance(name, str) or name not in KINDS:
        raise Invalid("Unknown resource kind.", {"/kind": [f"Must be one of: {', '.join(KINDS)}."]})
    return KINDS[name]


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        raise Invalid("The name is not valid.", {"/name": [f"Must be {NAME_RULE}."]})
    return name


def check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise Invalid("Tags must be an object of strings.", {"/tags": ["Must be an object of strings."]})
    errors = {}
    if len(tags) > MAX_TAGS:
        errors["/tags"] = [f"At most {MAX_TAGS} tags."]
    for key, value in tags.items():
        if not (1 <= len(key) <= 128) or not isinstance(value, str) or len(value) > 256:
            errors[_pointer("tags", key)] = ["A tag is a key of 1 to 128 characters and a text value of at most 256."]
    if errors:
        raise Invalid("The tags are not valid.", errors)
    return dict(tags)


def check_attributes(kind: Kind, attributes: Any, *, partial: bool) -> dict:
    """The attributes as the cloud stores them: validated, integers as ints. Raises Invalid."""
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise Invalid("Attributes must be an object.", {"/attributes": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    for error in _validator(kind, partial=partial).iter_errors(attributes):
        if error.validator == "additionalProperties":
            known = {f.name for f in kind.fields}
            for extra in sorted(set(attributes) - known):
                errors.setdefault(_pointer("attributes", extra), []).append(
                    f"{kind.title}s have no attribute {extra!r}."
                )
            continue
        if error.validator == "required":
            missing = error.message.split("'")[1]
            errors.setdefault(_pointer("attributes", missing), []).append("This attribute is required.")
            continue
        where = _pointer("attributes", *error.absolute_path)
        # anyOf wraps optional fields (the value, or null): report what the value's own branch says.
        best = next((e for e in error.context or () if e.schema_path and e.schema_path[0] == 0), None)
        errors.setdefault(where, []).append(_message(best or error))
    if errors:
        raise Invalid(f"The {kind.title.lower()}'s attributes are not valid.", errors)
    clean = {}
    for key, value in attributes.items():
        field = kind.field(key)
        if value is None and field.default is not None:
            value = field.default  # null asks for the cloud's default
        elif field.type == "integer" and isinstance(value, float):
            value = int(value)
        clean[key] = value
    return clean
