"""Reading a module's variables with python-hcl2: blocks with their file and line, type constraints as JSON Schema.

python-hcl2 returns a type constraint as the text of its expression (``${list(object({a = string}))}``)
and keeps the quotes of string literals (``"\\"small\\""``). This module turns both into plain values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2


class HCLError(Exception):
    """A .tf file or a type expression that cannot be read; the message names the file and line."""


def unquote(value: Any) -> Any:
    """python-hcl2 values as JSON: string literals without their quotes, ``${...}`` expressions as text."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                return json.loads(value)
            except ValueError:
                return value[1:-1]
        return value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


def expression(value: Any) -> str:
    """The text of an HCL expression, without python-hcl2's ``${}`` wrapper."""
    text = str(value).strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return text.strip()


@dataclass
class Block:
    name: str
    file: str
    line: int
    body: dict

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def blocks(src: Path, kind: str) -> dict[str, Block]:
    """Top-level ``variable`` or ``output`` blocks of every .tf file in ``src``, by name, with file:line."""
    found: dict[str, Block] = {}
    for tf in sorted(src.glob("*.tf")):
        text = tf.read_text()
        try:
            parsed = hcl2.loads(text)
        except Exception as exc:  # python-hcl2 raises lark errors of several kinds
            line = getattr(exc, "line", None)
            raise HCLError(f"src/{tf.name}{f':{line}' if line else ''}: cannot parse HCL: {exc}") from exc
        for block in parsed.get(kind, []):
            for raw_name, body in block.items():
                name = unquote(raw_name)
                match = re.search(rf'^[ \t]*{kind}\s+"?{re.escape(name)}"?\s*\{{', text, re.MULTILINE)
                line = text.count("\n", 0, match.start()) + 1 if match else 1
                found[name] = Block(name, f"src/{tf.name}", line, body)
    return found


def resource_addresses(src: Path) -> set[str]:
    """``type.name`` of each top-level ``resource`` block in the module."""
    found = set()
    for tf in sorted(src.glob("*.tf")):
        try:
            parsed = hcl2.loads(tf.read_text())
        except Exception as exc:  # python-hcl2 raises lark errors of several kinds
            raise HCLError(f"src/{tf.name}: cannot parse HCL: {exc}") from exc
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name in named if isinstance(named, dict) else {}:
                    found.add(f"{unquote(kind)}.{unquote(name)}")
    return found


# --- type constraints -----------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)'
    r"|(?P<id>[A-Za-z_][\w-]*)|(?P<p>[()\[\]{},=:]))"
)


class _Tokens:
    def __init__(self, text: str):
        self.items: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise HCLError(f"cannot read type expression at {text[pos : pos + 20]!r}")
            kind = match.lastgroup or "p"
            self.items.append((kind, match.group(kind)))
            pos = match.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (expected is not None and token[1] != expected):
            raise HCLError(f"expected {expected or 'more'} in type expression, got {token[1] if token else 'end'}")
        self.pos += 1
        return token


def _literal(tokens: _Tokens) -> Any:
    kind, text = tokens.take()
    if kind == "str":
        return json.loads(text)
    if kind == "num":
        number = float(text)
        return int(number) if number.is_integer() and not any(c in text for c in ".eE") else number
    if kind == "id":
        return {"true": True, "false": False, "null": None}.get(text, text)
    if text == "[":
        items = []
        while tokens.peek() and tokens.peek()[1] != "]":
            items.append(_literal(tokens))
            if tokens.peek() and tokens.peek()[1] == ",":
                tokens.take(",")
        tokens.take("]")
        return items
    if text == "{":
        out = {}
        while tokens.peek() and tokens.peek()[1] != "}":
            key = _literal(tokens)
            tokens.take("=" if tokens.peek() and tokens.peek()[1] == "=" else ":")
            out[str(key)] = _literal(tokens)
            if tokens.peek() and tokens.peek()[1] == ",":
                tokens.take(",")
        tokens.take("}")
        return out
    raise HCLError(f"unexpected {text!r} in a default value")


_MISSING = object()


def _type(tokens: _Tokens) -> tuple[dict, bool, Any]:
    """One type: (JSON Schema, optional?, optional default)."""
    _, name = tokens.take()
    if name in ("string", "number", "bool", "any"):
        return (
            {"string": {"type": "string"}, "number": {"type": "number"}, "bool": {"type": "boolean"}, "any": {}}[name],
            False,
            _MISSING,
        )
    tokens.take("(")
    if name == "optional":
        inner, _, _ = _type(tokens)
        default = _MISSING
        if tokens.peek() and tokens.peek()[1] == ",":
            tokens.take(",")
            default = _literal(tokens)
        tokens.take(")")
        return inner, True, default
    if name in ("list", "set"):
        inner, _, _ = _type(tokens)
        tokens.take(")")
        schema = {"type": "array", "items": inner}
        if name == "set":
            schema["uniqueItems"] = True
        return schema, False, _MISSING
    if name == "map":
        inner, _, _ = _type(tokens)
        tokens.take(")")
        return {"type": "object", "additionalProperties": inner}, False, _MISSING
    if name == "tuple":
        tokens.take("[")
        items = []
        while tokens.peek() and tokens.peek()[1] != "]":
            items.append(_type(tokens)[0])
            if tokens.peek() and tokens.peek()[1] == ",":
                tokens.take(",")
        tokens.take("]")
        tokens.take(")")
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}, False, _MISSING
    if name == "object":
        tokens.take("{")
        properties, required = {}, []
        while tokens.peek() and tokens.peek()[1] != "}":
            _, attr = tokens.take()
            tokens.take("=")
            sub, optional, default = _type(tokens)
            if default is not _MISSING and default is not None:
                sub = {**sub, "default": default}
            properties[attr] = sub
            if not optional:
                required.append(attr)
            if tokens.peek() and tokens.peek()[1] == ",":
                tokens.take(",")
        tokens.take("}")
        tokens.take(")")
        schema = {"type": "object", "additionalProperties": False, "properties": properties}
        if required:
            schema["required"] = required
        return schema, False, _MISSING
    raise HCLError(f"unknown type {name!r}")


def type_schema(constraint: Any) -> dict:
    """A variable's ``type`` as JSON Schema (``{}`` when it has none: any value)."""
    if constraint is None:
        return {}
    tokens = _Tokens(expression(constraint))
    schema, _, _ = _type(tokens)
    if tokens.peek() is not None:
        raise HCLError(f"unexpected {tokens.peek()[1]!r} after the type")
    return schema


def json_kind(schema: dict) -> str | None:
    """The JSON type family of a schema, for comparing a param with its variable."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = {k for k in kind if k != "null"}
        kind = kinds.pop() if len(kinds) == 1 else None
    if kind == "integer":
        return "number"
    if kind is None:
        if schema.get("enum"):
            values = {type(v).__name__ for v in schema["enum"] if v is not None}
            mapping = {"str": "string", "int": "number", "float": "number", "bool": "boolean"}
            found = {mapping.get(v) for v in values}
            return found.pop() if len(found) == 1 else None
        if "properties" in schema or "additionalProperties" in schema or "oneOf" in schema or "anyOf" in schema:
            return "object" if "properties" in schema or "additionalProperties" in schema else None
        if "items" in schema or "prefixItems" in schema:
            return "array"
    return kind
