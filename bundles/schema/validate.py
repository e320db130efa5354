"""Validation: a compiled validator per schema, and its errors keyed by the JSON pointer of the field.

jsonschema has the final say on every parameter set. Validators are compiled once per schema and
cached; remote ``$ref`` are never fetched (:data:`refs.REGISTRY`).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from portal.inputs import value_problems

from .dialect import DEFAULT, dialect_problems, validator_class
from .labels import variant_title
from .refs import REGISTRY, pointer, ref_cycles, remote_refs, resolve_ref
from .walk import walk


def _digest(schema: dict) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True, default=str).encode()).hexdigest()


_COMPILED: dict[str, Any] = {}


def compile_validator(schema: dict):
    """A validator for ``schema``, in its dialect (:func:`dialect.validator_class`)."""
    key = _digest(schema)
    validator = _COMPILED.get(key)
    if validator is None:
        cls = validator_class(schema)
        validator = cls(schema, registry=REGISTRY, format_checker=cls.FORMAT_CHECKER)
        if len(_COMPILED) > 512:
            _COMPILED.clear()
        _COMPILED[key] = validator
    return validator


def _schema_problems(schema: dict, cls) -> list[str]:
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        return [f"{pointer(exc.absolute_path) or '/'}: invalid JSON Schema: {exc.message}"]
    return []


def check_params_schema(schema: Any) -> list[str]:
    """Problems with a bundle's params schema, each naming its JSON pointer. Empty when fine."""
    if not isinstance(schema, dict):
        return ["params must be a JSON Schema object."]
    dialect_errors, _notes = dialect_problems(schema)
    problems = dialect_errors + _schema_problems(schema, validator_class(schema))
    if schema.get("type") != "object":
        problems.append('/type: the params schema must have "type": "object".')
    for where, ref in remote_refs(schema):
        problems.append(f"{where}: remote reference {ref!r} is not allowed; a bundle's schema must be self-contained.")
    if not problems:
        for ref in ref_cycles(schema, (node.schema for node in walk(schema))):
            problems.append(
                f"{ref[1:] or '/'}: {ref!r} refers back to itself without a property or item in between; "
                "validating any value would never end."
            )
    return problems


def _describe(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


# What each failed keyword means, in words ({} is the keyword's value).
_MESSAGES = {
    "minimum": "Must be at least {}.",
    "maximum": "Must be at most {}.",
    "exclusiveMinimum": "Must be greater than {}.",
    "exclusiveMaximum": "Must be less than {}.",
    "multipleOf": "Must be a multiple of {}.",
    "minLength": "Must be at least {} characters long.",
    "maxLength": "Must be at most {} characters long.",
    "pattern": "Must match the pattern {}.",
    "format": "Must be a valid {}.",
    "minItems": "Must have at least {} items.",
    "maxItems": "Must have at most {} items.",
    "uniqueItems": "Items must be unique.",
    "oneOf": "Does not match any of the allowed options.",
    "anyOf": "Does not match any of the allowed options.",
}
_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "empty",
}


def _pattern_message(schema: Any) -> str | None:
    """The author's words for a failed ``pattern``: ``x-pattern-message``, or the ``message.pattern`` /
    ``errorMessage.pattern`` that rjsf and ajv-errors users write."""
    if not isinstance(schema, dict):
        return None
    if isinstance(schema.get("x-pattern-message"), str):
        return schema["x-pattern-message"]
    for key in ("message", "errorMessage"):
        found = schema.get(key)
        if isinstance(found, dict) and isinstance(found.get("pattern"), str):
            return found["pattern"]
    return None


def _friendly(error: jsonschema.ValidationError) -> str:
    v, expected = error.validator, error.validator_value
    if v == "pattern":
        return _pattern_message(error.schema) or _MESSAGES["pattern"].format(expected)
    # draft-04: a boolean exclusiveMaximum/exclusiveMinimum makes maximum/minimum strict.
    if v == "maximum" and isinstance(error.schema, dict) and error.schema.get("exclusiveMaximum") is True:
        return _MESSAGES["exclusiveMaximum"].format(expected)
    if v == "minimum" and isinstance(error.schema, dict) and error.schema.get("exclusiveMinimum") is True:
        return _MESSAGES["exclusiveMinimum"].format(expected)
    if v == "enum":
        return "Must be one of: " + ", ".join(_describe(x) for x in expected) + "."
    if v == "const":
        return f"Must be {_describe(expected)}."
    if v == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return "Must be " + " or ".join(_TYPE_NAMES.get(k, k) for k in kinds) + "."
    return _MESSAGES[v].format(expected) if v in _MESSAGES else error.message


def _closest_branch(error: jsonschema.ValidationError) -> list | None:
    """The errors of the ``oneOf``/``anyOf`` branch the value was most likely meant for.

    A branch whose constant discriminator or type already fails is not the one the user chose; among
    the rest, the one with the fewest errors. None when no branch stands out (then the message stays
    on the field itself).
    """
    branches: dict[int, list] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0] if sub.schema_path else 0, []).append(sub)
    if not branches:
        return None

    def mismatch(subs) -> bool:
        return any(s.validator in ("const", "type", "enum") and len(s.relative_path) <= 1 for s in subs)

    fitting = [subs for _, subs in sorted(branches.items()) if not mismatch(subs)]
    if not fitting:
        return None
    return min(fitting, key=len)


def _errors_of(errors, root: Any = None, params: Any = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    _collect(errors, out, root, params)
    return out


def _branch_names(root: Any, branches: Any) -> list[str]:
    """What each ``oneOf``/``anyOf`` branch is called, as the form's selector calls it."""
    names = []
    for index, branch in enumerate(branches if isinstance(branches, list) else []):
        shown = branch if isinstance(branch, dict) else {}
        if isinstance(shown.get("$ref"), str) and isinstance(root, dict):
            target = resolve_ref(root, shown["$ref"])
            shown = {**target, **shown} if isinstance(target, dict) else shown
        names.append(variant_title(shown, index))
    return names


def _valid(validator, branch: Any, error: jsonschema.ValidationError) -> bool:
    try:
        return validator.evolve(schema=branch).is_valid(error.instance)
    except (SchemaError, TypeError, RecursionError):
        return False


def _forbidden(root: Any, params: Any, error: jsonschema.ValidationError) -> list[tuple[str, str]]:
    """Where a ``false`` subschema's error belongs: the property or item it forbids.

    jsonschema reports a ``false`` subschema at the object or list holding the value, its schema path
    stopping at the keyword (``properties``, ``prefixItems``...), so the field is found again from the schema."""
    base = list(error.absolute_path)
    here: Any = root
    for part in error.absolute_schema_path:
        hops = 0
        while isinstance(here, dict) and part not in here and isinstance(here.get("$ref"), str) and hops < 32:
            here, hops = resolve_ref(root, here["$ref"]), hops + 1  # jsonschema leaves "$ref" out of the path
        if (isinstance(here, dict) and part in here) or (
            isinstance(here, list) and isinstance(part, int) and part < len(here)
        ):
            here = here[part]
        else:
            here = None
            break
    parent: Any = params
    for part in base:
        parent = parent[part] if isinstance(parent, (dict, list)) else None
    keyword = error.absolute_schema_path[-1] if error.absolute_schema_path else None
    found: list[tuple[str, str]] = []
    if isinstance(here, dict) and isinstance(parent, dict) and keyword == "properties":
        found = [(pointer([*base, k]), _NOT_ALLOWED) for k, sub in here.items() if sub is False and k in parent]
    elif isinstance(here, dict) and isinstance(parent, dict) and keyword == "patternProperties":
        forbidden = [p for p, sub in here.items() if sub is False]
        found = [(pointer([*base, k]), _NOT_ALLOWED) for k in parent if any(_search(p, k) for p in forbidden)]
    elif isinstance(here, list) and isinstance(parent, list) and keyword in ("prefixItems", "items"):
        found = [(pointer([*base, i]), _ITEM_NOT_ALLOWED) for i, sub in enumerate(here[: len(parent)]) if sub is False]
    return found or [(pointer(base), "This value is not allowed here.")]


_NOT_ALLOWED = "This field is not allowed."
_ITEM_NOT_ALLOWED = "This item is not allowed."


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return False


def param_errors(
    schema: dict,
    params: Any,
    *,
    found: list | None = None,
    parts: list[dict[str, list[str]]] | None = None,
    problems: dict[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Validate params; return messages keyed by the JSON pointer of the field they belong to.

    Values no field can hold come first, whatever the schema says (:func:`portal.inputs.value_problems`: a NUL
    character or a lone surrogate in a key or a string, an infinite number, an integer outside 64 bits, nesting
    too deep); the schema is not consulted on params nested too deep to walk. ``found``: the compiled
    validator's errors for ``params`` when the caller already has them (a bulk dry run: not validated twice).
    ``parts``: those errors already worded, in their order, as :func:`collected` words them (a bulk dry run's
    memo, :mod:`.fast`): messages are what the errors give, so the two are the same; ``problems``: what
    :func:`portal.inputs.value_problems` says of ``params``, when the caller has it (a fresh dict, filled here)."""
    errors: dict[str, list[str]] = value_problems(params) if problems is None else problems
    if any("Nested deeper" in message for messages in errors.values() for message in messages):
        return errors
    if parts is not None:
        for part in parts:
            for where, messages in part.items():
                errors.setdefault(where, []).extend(messages)
    else:
        try:
            _collect(compile_validator(schema).iter_errors(params) if found is None else found, errors, schema, params)
        except RecursionError:  # a schema published before lint refused $ref cycles
            errors.setdefault("", []).append(
                "The bundle's schema refers to itself without end, so no value can be checked; tell your platform team."
            )
    # One message per problem: two subschemas requiring the same field say it once.
    return {where: list(dict.fromkeys(messages)) for where, messages in errors.items()}


def collected(found, root: Any, params: Any) -> dict[str, list[str]]:
    """Some of jsonschema's errors for ``params`` in words, keyed by pointer (in order; not yet deduplicated)."""
    out: dict[str, list[str]] = {}
    _collect(found, out, root, params)
    return out


def _collect(found, errors: dict[str, list[str]], root: Any = None, params: Any = None) -> None:
    for error in found:
        base = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance and repr(name) in error.message:
                    errors.setdefault(pointer([*base, name]), []).append("This field is required.")
            continue
        if error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
            # jsonschema names exactly the keys at fault (not those patternProperties, allOf or a $ref declare).
            extras = [k for k in error.instance if repr(k) in error.message] or [None]
            for name in extras:
                where = pointer([*base, name]) if name is not None else pointer(base)
                errors.setdefault(where, []).append(
                    f"Unknown field {name!r}: this bundle does not declare it." if name else error.message
                )
            continue
        if error.validator is None and error.schema is False:
            for where, words in _forbidden(root, params, error):
                errors.setdefault(where, []).append(words)
            continue
        if error.validator in ("dependentRequired", "dependencies") and isinstance(error.instance, dict):
            placed = False
            for trigger, needed in error.validator_value.items():
                if trigger in error.instance and isinstance(needed, list):
                    for name in needed:
                        if name not in error.instance and repr(name) in error.message:
                            errors.setdefault(pointer([*base, name]), []).append(f"Required when {trigger!r} is set.")
                            placed = True
            if placed:
                continue
        if error.validator in ("oneOf", "anyOf") and error.context:
            branch = _closest_branch(error)
            if branch is not None:
                for where, messages in _errors_of(branch, root, params).items():
                    errors.setdefault(where, []).extend(m for m in messages if m not in errors.get(where, []))
                continue
            names = _branch_names(root, error.validator_value)
            errors.setdefault(pointer(base), []).append(f"Must be one of the options: {', '.join(names)}.")
            continue
        if error.validator == "oneOf" and isinstance(error.validator_value, list):  # valid under more than one
            validator = compile_validator(root if isinstance(root, dict) else {})
            names = _branch_names(root, error.validator_value)
            matched = [n for n, b in zip(names, error.validator_value, strict=True) if _valid(validator, b, error)]
            errors.setdefault(pointer(base), []).append(
                f"Matches more than one of the options ({', '.join(matched or names)}); it must match exactly one."
            )
            continue
        errors.setdefault(pointer(base), []).append(_friendly(error))


def check_overlay_schema(fragment) -> list[str]:
    """Problems with a policy overlay (a JSON Schema fragment combined with a bundle's schema)."""
    if not isinstance(fragment, dict):
        return [": must be a JSON Schema object."]
    problems = _schema_problems(fragment, DEFAULT)
    for where, ref in remote_refs(fragment):
        problems.append(f"{where}: remote reference {ref!r} is not allowed.")
    return problems


# Regex syntax (as regexes) that ECMA-262 (the browser, rjsf) and Python's ``re`` (the server) read differently or
# not at all: the same ``pattern`` would accept different values on each side.
_REGEX_TRAPS = (
    (
        r"\[:[a-z]+:\]",
        "a POSIX class ([[:space:]], [[:alpha:]]...), which neither Python nor ECMA-262 reads (use \\s, [A-Za-z])",
    ),
    (re.escape("(?P<"), "Python's (?P<name>...), which ECMA-262 does not read (use a plain group)"),
    (re.escape("(?<="), "a lookbehind, which Python limits to fixed widths and older ECMA engines lack"),
    (re.escape("(?<!"), "a lookbehind, which Python limits to fixed widths and older ECMA engines lack"),
    (re.escape("\\Z"), "\\Z, which is Python only (use $)"),
    (re.escape("\\A"), "\\A, which is Python only (use ^)"),
    (re.escape("\\z"), "\\z, which neither reads (use $)"),
    (re.escape("\\p{"), "\\p{...}, a Unicode class Python's re refuses"),
    (re.escape("(?i"), "an inline flag, which is Python only"),
)


def regex_warnings(schema: Any) -> list[str]:
    """A warning per ``pattern`` (or ``patternProperties`` key) whose syntax ECMA-262 and Python read
    differently, or that Python cannot compile, naming its JSON pointer."""
    out: list[str] = []
    for node in walk(schema):
        found = []
        if isinstance(node.schema.get("pattern"), str):
            found.append((f"{node.pointer}/pattern", node.schema["pattern"]))
        for key in node.schema.get("patternProperties") or {}:
            found.append((f"{node.pointer}/patternProperties{pointer((key,))}", key))
        for where, pattern in found:
            for trap, why in _REGEX_TRAPS:
                if re.search(trap, pattern):
                    out.append(f"{where}: the pattern {pattern!r} uses {why}.")
                    break
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "possible nested set": the trap above names it
                    re.compile(pattern)
            except re.error as exc:
                out.append(f"{where}: the pattern {pattern!r} does not compile on the server: {exc}.")
    return list(dict.fromkeys(out))
