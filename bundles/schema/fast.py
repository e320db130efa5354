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
import marshal
import re
from typing import Any

import jsonschema_rs
from jsonschema import Draft4Validator, Draft6Validator, Draft7Validator, Draft201909Validator, Draft202012Validator

from portal.inputs import value_problems

from .refs import ref_cycles, remote_refs
from .validate import _digest, collected, compile_validator, param_errors
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
# jsonschema's ``properties`` (the same function in every draft): the keyword whose errors are memoised by value.
_PROPERTIES = frozenset(cls.VALIDATORS["properties"] for cls in _RUST)
# Values told apart exactly by (type, value); any other by its marshal bytes (1.0, -0.0, containers).
_SCALARS = (str, int, bool, type(None))
_MEMO_SIZE = 200_000
_ENCODE = json.JSONEncoder(allow_nan=False).encode  # json.dumps(..., allow_nan=False) without a new encoder per call
# The root's keywords whose errors (and their words) depend on the object's keys alone, for an object: memoised per
# key list. ``additionalProperties`` too when it is a boolean (with a subschema it reads the extra values).
_KEYS_ONLY = frozenset(
    cls.VALIDATORS[name]
    for cls in _RUST
    for name in ("type", "required", "dependentRequired", "propertyNames")
    if name in cls.VALIDATORS
)
_ADDITIONAL = frozenset(cls.VALIDATORS["additionalProperties"] for cls in _RUST)
_MISS = object()


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
        # Whether jsonschema's errors can be worded property by property (:meth:`worded`).
        self._split = isinstance(schema, dict) and any(f in _PROPERTIES for f, _, _ in self.reference._validators)
        self._memo: dict[tuple, dict[str, list[str]] | None] = {}
        self._problems: dict[tuple, dict[str, list[str]]] = {}
        self._keys: dict[tuple, dict[str, list[str]] | None] = {}

    def _plain(self, instance: Any) -> bool:
        """Whether ``instance`` holds nothing the two engines could read differently."""
        try:
            text = _ENCODE(instance)
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

    def worded(self, params: Any) -> tuple[dict[str, list[str]], list[dict[str, list[str]]]] | None:
        """What :func:`.validate.param_errors` needs to word ``params``' errors without jsonschema's
        ``iter_errors``: ``(problems, parts)``, ``problems`` being :func:`portal.inputs.value_problems`
        of ``params`` and ``parts`` jsonschema's errors in words (:func:`.validate.collected`), one part
        per failing keyword or top-level property, in the order ``iter_errors`` yields them ([] when it
        yields none). None when the schema has no top-level ``properties`` to split, ``params`` is not
        an object, or jsonschema exhausts the stack: then ``param_errors`` validates, as before.

        The root's keywords run as ``iter_errors`` runs them (the same functions, in the same order, the
        same details set); only ``properties`` is split: each property's errors are its value's under its
        subschema (``descend``, whose result depends on nothing else), so they are worded once per distinct
        (property, value) and reused; so are each top-level key's value problems (``value_problems`` of
        ``{key: value}``: what that key adds to the whole's, in the whole's order), and the root keywords
        that read only the keys (``required``, ``type``, a boolean ``additionalProperties``...) are worded once
        per key list. A bulk dry run's
        invalid values mostly fail alike: a few hundred distinct failing values among 100k params.
        ``params`` must be decoded JSON (keys are text)."""
        reference, schema = self.reference, self.schema
        if not self._split or not isinstance(params, dict):
            return None
        keys = {name: _key(name, value) for name, value in params.items()}
        problems: dict[str, list[str]] = {}
        for name, key in keys.items():
            found = self._problems.get(key, _MISS) if key is not None else _MISS
            if found is _MISS:
                found = value_problems({name: params[name]})
                if key is not None:
                    if len(self._problems) >= _MEMO_SIZE:
                        self._problems.clear()
                    self._problems[key] = found
            for where, messages in found.items():
                problems.setdefault(where, []).extend(messages)
        parts: list[dict[str, list[str]]] = []
        try:
            for function, keyword, value in reference._validators:
                if function in _PROPERTIES:
                    for name, subschema in value.items():
                        if name in params:
                            part = self._property(name, subschema, params, keys[name])
                            if part is not None:
                                parts.append(part)
                    continue
                by_keys = (keyword, tuple(params)) if _by_keys(function, value) else None
                found = self._keys.get(by_keys, _MISS) if by_keys is not None else _MISS
                if found is not _MISS:
                    if found is not None:
                        parts.append(found)
                    continue
                errors = list(function(reference, value, params, schema) or ())
                for error in errors:
                    error._set(
                        validator=keyword,
                        validator_value=value,
                        instance=params,
                        schema=schema,
                        type_checker=reference.TYPE_CHECKER,
                    )
                    if keyword not in {"if", "$ref"}:
                        error.schema_path.appendleft(keyword)
                found = collected(errors, schema, params) if errors else None
                if found is not None:
                    parts.append(found)
                if by_keys is not None:
                    if len(self._keys) >= _MEMO_SIZE:
                        self._keys.clear()
                    self._keys[by_keys] = found
        except RecursionError:
            return None
        return problems, parts

    def _property(self, name: str, subschema: Any, params: dict, key: tuple | None) -> dict[str, list[str]] | None:
        """One property's errors in words (None: it has none), memoised per (name, value)."""
        if subschema is False:  # jsonschema reports it at the object, and words it from the object's keys
            key = None
        found = self._memo.get(key, _MISS) if key is not None else _MISS
        if found is _MISS:
            errors = list(self.reference.descend(params[name], subschema, path=name, schema_path=name))
            for error in errors:  # as iter_errors does for the "properties" keyword (descend set the rest)
                error.schema_path.appendleft("properties")
            found = collected(errors, self.schema, params) if errors else None
            if key is not None:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.clear()
                self._memo[key] = found
        return found


def _by_keys(function, value: Any) -> bool:
    """Whether the root's keyword ``function`` reads only an object's keys (their order included), not their values."""
    return function in _KEYS_ONLY or (function in _ADDITIONAL and isinstance(value, bool))


def _key(name: str, value: Any) -> tuple | None:
    """What tells ``value`` apart exactly, or None (not memoised): its type and value, else its ``marshal`` bytes
    (a faithful encoding: types, a float's bits and key order kept; format 2 has no back-references; ten times
    quicker than ``json.dumps``). Equal values may get different bytes (an interned string): only a memo miss."""
    if type(value) in _SCALARS:
        return (name, type(value), value)
    try:
        return (name, marshal.dumps(value, 2))
    except (TypeError, ValueError, RecursionError):
        return None


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
    costs the Rust engine and the value check, not jsonschema; an invalid one's messages are worded per
    distinct failing property value (:meth:`FastValidator.worded`)."""
    fast = fast_validator(schema)
    if fast.quick(params) and not value_problems(params):
        return {}
    worded = fast.worded(params)
    if worded is None:
        return param_errors(schema, params)
    return param_errors(schema, params, problems=worded[0], parts=worded[1])
