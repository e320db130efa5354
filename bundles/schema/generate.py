"""``x-generate``: the rule a bundle gives for making a value it marks ``x-copyable: false``, so that a copy of a
deployment (a fork of its environment, a promotion that creates it) gets a fresh value instead of one left for a
person to fill.

Two kinds, on text fields only::

    bucket_name: {type: string, maxLength: 40, x-copyable: false, x-generate: {kind: suffix}}
    password:    {type: string, minLength: 16, x-sensitive: true, x-copyable: false,
                  x-generate: {kind: random, length: 32}}

- ``suffix``: the source's value, a separator (``-`` unless ``separator`` says another) and a short random
  suffix (``length``, 6 unless said, lowercase letters and digits); the source part is cut to keep within
  ``maxLength``.
- ``random``: a random string of ``length`` characters (32 unless said) from ``characters``:
  ``letters-digits`` (the default), ``lowercase-digits`` or ``hex``.

A value is made from the operating system's random source (``secrets``) and must satisfy the field's own
``minLength``, ``maxLength`` and ``pattern``; after a few tries that all fail, none is made and the value is
left for a person. Lint (:func:`generate_problems`) refuses a rule that could never apply, in words.
"""

from __future__ import annotations

import random
import re
import secrets
import string
from typing import Any

from .refs import pointer
from .walk import walk

KEY = "x-generate"
CHARACTERS = {
    "letters-digits": string.ascii_letters + string.digits,
    "lowercase-digits": string.ascii_lowercase + string.digits,
    "hex": "0123456789abcdef",
}
SUFFIX_CHARACTERS = CHARACTERS["lowercase-digits"]
SEPARATORS = ("-", "_", ".", "")
OPTIONS = {"suffix": {"kind", "length", "separator"}, "random": {"kind", "length", "characters"}}
LENGTHS = {"suffix": (3, 32, 6), "random": (8, 256, 32)}  # (least, most, default)
KINDS_IN_WORDS = "suffix (the source's value and a short random suffix) or random (a random string, e.g. a password)"
ATTEMPTS = 20


def rule_of(schema: Any) -> dict | None:
    """The field's generation rule, or None."""
    found = schema.get(KEY) if isinstance(schema, dict) else None
    return found if isinstance(found, dict) and found.get("kind") in OPTIONS else None


def _length(rule: dict) -> int:
    return rule.get("length", LENGTHS[rule["kind"]][2])


def _candidate(schema: dict, rule: dict, source: Any, chooser) -> str | None:
    length = _length(rule)
    if rule["kind"] == "random":
        alphabet = CHARACTERS[rule.get("characters", "letters-digits")]
        return "".join(chooser(alphabet) for _ in range(length))
    if not isinstance(source, str) or not source:
        return None  # nothing to put a suffix on
    separator = rule.get("separator", "-")
    suffix = "".join(chooser(SUFFIX_CHARACTERS) for _ in range(length))
    base = source
    most = schema.get("maxLength")
    if isinstance(most, int):
        base = base[: max(most - length - len(separator), 0)]
        if separator:
            base = base.rstrip(separator)
    return f"{base}{separator}{suffix}" if base else suffix


def fits(schema: dict, value: str) -> bool:
    """Whether ``value`` keeps the field's own text rules: ``minLength``, ``maxLength``, ``pattern``."""
    least, most = schema.get("minLength"), schema.get("maxLength")
    if isinstance(least, int) and len(value) < least:
        return False
    if isinstance(most, int) and len(value) > most:
        return False
    if isinstance(schema.get("pattern"), str):
        try:
            return re.search(schema["pattern"], value) is not None
        except re.error:
            return False
    return True


def generated_value(schema: dict, source: Any = None, *, chooser=secrets.choice) -> str | None:
    """A value for the field ``schema`` by its ``x-generate`` rule (``source`` is the value being copied), or
    None: the field has no rule, or no value made in a few tries keeps the field's rules."""
    rule = rule_of(schema)
    if rule is None:
        return None
    for _ in range(ATTEMPTS):
        value = _candidate(schema, rule, source, chooser)
        if value is None:
            return None
        if fits(schema, value):
            return value
    return None


def _types(schema: dict) -> list:
    declared = schema.get("type")
    return declared if isinstance(declared, list) else [declared] if declared else []


def _rule_problems(schema: dict, rule: Any) -> list[str]:
    if not isinstance(rule, dict):
        return ["must be a mapping such as {kind: suffix} or {kind: random, length: 32}"]
    kind = rule.get("kind")
    if kind not in OPTIONS:
        said = "has no kind" if kind is None else f"has an unknown kind {kind!r}"
        return [f"{said}: use {KINDS_IN_WORDS}"]
    problems = [
        f"{kind} takes {', '.join(sorted(OPTIONS[kind] - {'kind'}))} only, not {extra!r}"
        for extra in sorted(set(rule) - OPTIONS[kind], key=str)
    ]
    least, most, _ = LENGTHS[kind]
    length = rule.get("length", LENGTHS[kind][2])
    if not isinstance(length, int) or isinstance(length, bool) or not least <= length <= most:
        problems.append(f"length must be a whole number from {least} to {most}, not {length!r}")
    if "separator" in rule and rule["separator"] not in SEPARATORS:
        problems.append(f"separator must be one of {', '.join(repr(s) for s in SEPARATORS)}, not {rule['separator']!r}")
    if "characters" in rule and rule["characters"] not in CHARACTERS:
        problems.append(f"characters must be one of {', '.join(CHARACTERS)}, not {rule['characters']!r}")
    types = _types(schema)
    if "string" not in types or any(t not in ("string", "null") for t in types):
        shown = " or ".join(map(str, types)) if types else "not declared as text (type: string)"
        problems.append(f"makes text, so it applies to text fields only (type: string), and this field is {shown}")
    if "enum" in schema or "const" in schema:
        problems.append("a generated value cannot be one of a fixed list: remove enum/const or the rule")
    if schema.get("x-copyable") is not False:
        problems.append(
            "only applies to a value a copy does not take: add x-copyable: false to this field, or remove the rule"
        )
    return problems


def _sample_problems(schema: dict, rule: dict) -> list[str]:
    """Whether values the rule makes can keep the field's own rules (a seeded sample: no secret is involved)."""
    kind, length = rule["kind"], _length(rule)
    least, most = schema.get("minLength"), schema.get("maxLength")
    if kind == "random":
        if isinstance(least, int) and length < least:
            return [f"length {length} is shorter than the field's minLength {least}"]
        if isinstance(most, int) and length > most:
            return [f"length {length} is longer than the field's maxLength {most}"]
    else:
        separator = rule.get("separator", "-")
        if isinstance(most, int) and most < length + len(separator) + 1:
            return [
                f"the field's maxLength {most} leaves no room for the source's value and a {length}-character suffix"
            ]
    source = schema.get("default") if isinstance(schema.get("default"), str) else None
    if source is None and isinstance(schema.get("examples"), list):
        source = next((e for e in schema["examples"] if isinstance(e, str)), None)
    if kind == "suffix" and source is None:
        return []  # no value to try a suffix on
    seeded = random.Random(0)
    if not any(fits(schema, _candidate(schema, rule, source, seeded.choice) or "") for _ in range(ATTEMPTS)):
        what = "the source's value with a suffix" if kind == "suffix" else f"{length} random characters"
        return [f"the field's pattern or length rules refuse {what}: choose other options, or remove the rule"]
    return []


def generate_problems(params: dict) -> list[str]:
    """Lint: each ``x-generate`` in the params schema, as ``/pointer/x-generate: problem``."""
    problems, seen = [], set()
    for node in walk(params):
        if KEY not in node.schema or node.pointer in seen:
            continue
        seen.add(node.pointer)
        where = f"{node.pointer}/{KEY}"
        found = _rule_problems(node.schema, node.schema[KEY])
        if not found:
            found = _sample_problems(node.schema, node.schema[KEY])
        problems += [f"{where}: {p}" for p in found]
    return problems


__all__ = ["KEY", "fits", "generate_problems", "generated_value", "pointer", "rule_of"]
