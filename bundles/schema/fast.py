"""A compiled pass/fail check for many params sets: jsonschema-rs where its verdict is the reference's.

jsonschema (:mod:`.validate`) keeps the final say and every message. Checking 100k deployments'
params against a new schema (a bulk change's dry run, a policy over an environment) only needs to
know *which* ones fail, and jsonschema's pure-Python engine spends ~80 µs on each; jsonschema-rs
(Rust) answers the same question in a few µs. :func:`fast_validator` gives an object whose
``is_valid`` is exactly the reference validator's (:func:`.validate.compile_validator`), using the
Rust engine only where the two cannot disagree:

- the keywords whose meaning depends on Python (``pattern``: Python's ``re``; ``format``: the
  reference's format checker, which checks only the formats whose libraries are installed;
  ``multipleOf``: its float arithmetic) are not Rust's: they call the reference's own keyword
  functions, through jsonschema-rs's custom keywords;
- a schema the Rust engine cannot take exactly is left to the reference: one with a remote
  ``$ref`` (never fetched), a ``$ref`` cycle, a ``patternProperties`` regex that Python's ``re``
  and the Rust engine may read differently (anything but plain ASCII literals, classes, anchors and
  quantifiers), or one the Rust engine refuses to compile;
- a value the Rust engine would read differently is left to the reference: one it cannot read (a
  lone surrogate), an integer near or outside 64 bits, a non-finite number, a value that is not
  JSON, a nesting deep enough to matter (the reference would exhaust Python's stack), or (when the
  schema has ``patternProperties``) an escaped character in a key or string (a trailing newline
  matches ``$`` in Python only).

Only a "valid" from the Rust engine is taken as is: an "invalid" is asked again of the reference
(those are the ones that need messages anyway), so the Rust engine can never make a valid value
fail. ``tests/bundles/test_fast_validation.py`` compares the two over the catalog's and the
corpus's schemas.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
from jsonschema import Draft4Validator, Draft6Validator, Draft7Validator, Draft201909Validator, Draft202012Validator

from portal.inputs import value_problems

from .refs import ref_cycles, remote_refs
from .validate import _digest, compile_validator, param_errors
from .walk import walk

_RUST = {
    Draft4Validator: jsonschema_rs.Draft4Validator,
    Draft6Validator: jsonschema_rs.Draft6Validator,
    Draft7Validator: jsonschema_rs.Draft7Validator,
    Draft201909Validator: jsonschema_rs.Draft201909Validator,
    Draft202012Validator: jsonschema_rs.Draft202012Validator,
}
# Keywords whose reference meaning is Python's own: the Rust engine calls the reference's function.
_PYTHON_KEYWORDS = ("pattern", "format", "multipleOf")
# A patternProperties regex both engines read alike: ASCII literals, simple classes, anchors, groups and
# quantifiers; no escapes, no ``.``, no ``(?`` constructs, no nested classes or class set operations.
_PORTABLE_CHARS = re.compile(r"[\^$A-Za-z0-9_\-\[\]()|*+?{},/@ ]*")
_COUNTED = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_CLASS_TRAPS = ("[[", "[]", "[^]", "&&", "--", "~~", "(?")
_LONG_NUMBER = re.compile(r"\d{19,}")
_DEEP = 64  # containers in one value above which the depth limit may matter: the reference decides


def _portable(regex: str) -> bool:
    if not _PORTABLE_CHARS.fullmatch(regex) or any(trap in regex for trap in _CLASS_TRAPS):
        return False
    return not any(brace in _COUNTED.sub("", regex) for brace in "{}")


def _pattern_properties(schema: Any) -> list[str]:
    """Every ``patternProperties`` regex anywhere in ``schema`` (looked for everywhere, to be safe)."""
    found: list[str] = []
    stack = [schema]
    while stack:
        here = stack.pop()
        if isinstance(here, dict):
            if isinstance(here.get("patternProperties"), dict):
                found.extend(here["patternProperties"])
            stack.extend(here.values())
        elif isinstance(here, list):
            stack.extend(here)
    return found


def _python_keyword(reference, name: str):
    """A jsonschema-rs custom keyword that runs the reference validator's own function for ``name``."""
    function = reference.VALIDATORS[name]

    class Keyword:
        def __init__(self, parent_schema, value, schema_path):
            self.parent, self.value = parent_schema, value

        def validate(self, instance):
            for error in function(reference, self.value, instance, self.parent):
                raise ValueError(error.message)

    Keyword.__name__ = f"Python_{name}"
    return Keyword


def _rust_for(schema: dict, reference):
    """A jsonschema-rs validator that agrees with ``reference`` on ``schema``, or None."""
    if not isinstance(schema, dict) or any(True for _ in remote_refs(schema)):
        return None
    if ref_cycles(schema, (node.schema for node in walk(schema))):
        return None
    if not all(_portable(regex) for regex in _pattern_properties(schema)):
        return None
    rust_class = _RUST.get(type(reference))
    if rust_class is None:
        return None
    keywords = {name: _python_keyword(reference, name) for name in _PYTHON_KEYWORDS if name in reference.VALIDATORS}
    try:
        return rust_class(schema, validate_formats=False, keywords=keywords, offline=True)
    except Exception:  # whatever the Rust engine refuses, the reference takes
        return None


class FastValidator:
    """``is_valid`` as the reference validator says it, asking the Rust engine first where it is exact."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.reference = compile_validator(schema)
        self.rust = _rust_for(schema, self.reference)
        self._pattern_properties = bool(_pattern_properties(schema))

    def _plain(self, instance: Any) -> bool:
        """Whether ``instance`` holds nothing the two engines could read differently."""
        try:
            text = json.dumps(instance, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            return False
        if _LONG_NUMBER.search(text) or text.count("{") + text.count("[") > _DEEP:
            return False
        return not (self._pattern_properties and "\\" in text)

    def quick(self, instance: Any) -> bool:
        """True when the Rust engine says ``instance`` is valid where its word is the reference's; False
        says nothing (ask the reference)."""
        if self.rust is None:
            return False
        try:
            valid = self.rust.is_valid(instance)
        except Exception:  # a value the Rust engine cannot read (a lone surrogate...)
            return False
        return valid and self._plain(instance)

    def is_valid(self, instance: Any) -> bool:
        return self.quick(instance) or self.reference.is_valid(instance)


_FAST: dict[str, FastValidator] = {}


def fast_validator(schema: dict) -> FastValidator:
    """The :class:`FastValidator` for ``schema``, compiled once (cached like :func:`compile_validator`)."""
    key = _digest(schema)
    found = _FAST.get(key)
    if found is None:
        found = FastValidator(schema)
        if len(_FAST) > 512:
            _FAST.clear()
        _FAST[key] = found
    return found


def param_errors_quickly(schema: dict, params: Any) -> dict[str, list[str]]:
    """:func:`.validate.param_errors`, exactly, with the compiled check first: a valid value (most of them)
    costs the Rust engine and the value check, not jsonschema."""
    if fast_validator(schema).quick(params) and not value_problems(params):
        return {}
    return param_errors(schema, params)
