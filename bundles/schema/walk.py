"""One walk of a JSON Schema, for everything that needs to find places in a schema or in params.

:func:`walk` yields every subschema with its JSON pointer in the schema, what kind of place it is
and where its values sit in an instance. :func:`matching_values` walks a schema *with* an instance
and yields the concrete JSON pointers of the values a predicate selects: every ``x-sensitive``
value in a params object, wherever the schema puts it (nested objects, array and tuple items,
``oneOf``/``anyOf`` variants, ``allOf``, conditional branches, ``dependentSchemas``, maps,
``patternProperties``, ``$ref``'d definitions).

The instance walk is conservative: a value is selected when *any* subschema that can apply to it
selects it, whether or not that branch is the one in use (an ``if`` that holds or not, a variant
chosen or not). For secrets that is the safe side: a value some branch calls sensitive is treated
as sensitive.

A new keyword that places values (say ``unevaluatedProperties``) is taught here, once, and the form
engine's lint, the display, secrets, policy and the estate autocomplete all see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from jsonpointer import JsonPointer

from .refs import pointer, resolve_ref

# Kinds of place a subschema can be.
ROOT = "root"
PROPERTY = "property"  # properties/<name>
ITEM = "item"  # items (one schema for every item), draft-07 additionalItems
TUPLE_ITEM = "tuple_item"  # prefixItems/<i>, draft-07 items/<i>
VARIANT = "variant"  # oneOf/<i>, anyOf/<i>
ALL_OF = "all_of"  # allOf/<i>
MAP_VALUE = "map_value"  # additionalProperties: the value of any other key
PATTERN_VALUE = "pattern_value"  # patternProperties/<regex>
IF, THEN, ELSE = "if", "then", "else"  # conditional branches
DEPENDENT = "dependent"  # dependentSchemas/<name>, draft-07 dependencies/<name> (schema form)
REF = "ref"  # the definition a $ref names (its pointer is the definition's own)

ANY = "*"  # in Node.path: any array item, or any key of a map
MAX_DEPTH = 32

_APPLICATORS = (("allOf", ALL_OF), ("anyOf", VARIANT), ("oneOf", VARIANT))
_BRANCHES = (("if", IF), ("then", THEN), ("else", ELSE))


@dataclass(frozen=True)
class Node:
    """One subschema: where it is in the schema, what kind of place, and where its values go in an instance.

    ``path`` holds property names, :data:`ANY` for any array item or map key, and indexes for tuple
    items; variants, ``allOf``, conditions and ``$ref`` add nothing to it (they describe the same
    value). ``under`` is the chain of kinds from the root (to tell e.g. a property of a variant) and
    ``ancestors`` the schemas on the way down.
    """

    pointer: str
    kind: str
    schema: dict
    path: tuple = ()
    under: tuple = ()
    ancestors: tuple = ()

    def marked(self, key: str) -> bool:
        """Whether this subschema or one it lies under sets ``key`` to true (``x-sensitive``, ``x-immutable``)."""
        return any(s.get(key) is True for s in (*self.ancestors, self.schema))

    @property
    def name(self) -> str | None:
        """The property name, for a property node."""
        return self.path[-1] if self.kind == PROPERTY and self.path else None


def _children(schema: dict) -> Iterator[tuple[tuple, str, Any, tuple]]:
    """(schema path parts, kind, subschema, instance path parts) for each place directly under ``schema``."""
    for name, sub in (schema.get("properties") or {}).items():
        yield ("properties", name), PROPERTY, sub, (name,)
    for pattern, sub in (schema.get("patternProperties") or {}).items():
        yield ("patternProperties", pattern), PATTERN_VALUE, sub, (ANY,)
    if isinstance(schema.get("additionalProperties"), dict):
        yield ("additionalProperties",), MAP_VALUE, schema["additionalProperties"], (ANY,)
    items = schema.get("items")
    tuple_key = "prefixItems" if isinstance(schema.get("prefixItems"), list) else "items"
    tuple_items = schema.get(tuple_key) if isinstance(schema.get(tuple_key), list) else []
    for index, sub in enumerate(tuple_items):
        yield (tuple_key, index), TUPLE_ITEM, sub, (index,)
    if isinstance(items, dict):
        yield ("items",), ITEM, items, (ANY,)
    if isinstance(items, list) and isinstance(schema.get("additionalItems"), dict):
        yield ("additionalItems",), ITEM, schema["additionalItems"], (ANY,)
    for key, kind in _APPLICATORS:
        for index, sub in enumerate(schema[key] if isinstance(schema.get(key), list) else []):
            yield (key, index), kind, sub, ()
    for key, kind in _BRANCHES:
        if key in schema:
            yield (key,), kind, schema[key], ()
    for key in ("dependentSchemas", "dependencies"):
        for name, sub in (schema.get(key) or {}).items() if isinstance(schema.get(key), dict) else []:
            if isinstance(sub, dict):
                yield (key, name), DEPENDENT, sub, ()


def walk(schema: Any) -> Iterator[Node]:
    """Every subschema of ``schema``, depth first, the root first. A ``$ref`` is followed to its definition
    (yielded as a :data:`REF` node at the definition's pointer), except into a definition already being
    walked on the way down (a recursive schema is walked once round)."""
    if isinstance(schema, dict):
        yield from _walk(schema, schema, Node("", ROOT, schema), ())


def _walk(root: dict, schema: dict, node: Node, refs_open: tuple) -> Iterator[Node]:
    yield node
    if len(node.under) >= MAX_DEPTH:
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in refs_open:
        target = resolve_ref(root, ref)
        if target is not None:
            child = Node(ref[1:], REF, target, node.path, (*node.under, REF), (*node.ancestors, schema))
            yield from _walk(root, target, child, (*refs_open, ref))
    for parts, kind, sub, path in _children(schema):
        if isinstance(sub, dict):
            where = pointer((*_split(node.pointer), *parts))
            child = Node(where, kind, sub, (*node.path, *path), (*node.under, kind), (*node.ancestors, schema))
            yield from _walk(root, sub, child, refs_open)


def _split(where: str) -> list[str]:
    return JsonPointer(where).parts if where else []


class Match(NamedTuple):
    """A value of an instance that a selected subschema governs."""

    pointer: str  # where the value is in the instance
    value: Any
    schema: dict  # the (first) subschema that selected it


def matching_values(schema: Any, instance: Any, predicate: Callable[[dict], bool]) -> list[Match]:
    """Every value of ``instance`` that a subschema selected by ``predicate`` governs, in the order found.
    A selected value is not looked into (its parts are covered by it), and no pointer lies inside another."""
    found: dict[str, tuple[tuple, Any, dict]] = {}
    if isinstance(schema, dict):
        _select(schema, schema, instance, (), predicate, found, (), 0)
    return [
        Match(where, value, sub)
        for where, (parts, value, sub) in found.items()
        if not any(parts[: len(other[0])] == other[0] for other in found.values() if len(other[0]) < len(parts))
    ]


def _select(root, schema, value, parts, predicate, found, refs_open, depth) -> None:
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return
    if predicate(schema):
        found.setdefault(pointer(parts), (parts, value, schema))
        return

    def visit(sub, item=value, where=parts, opened=refs_open):
        _select(root, sub, item, where, predicate, found, opened, depth + 1)

    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in refs_open:
        visit(resolve_ref(root, ref), opened=(*refs_open, ref))
    for _, _kind, sub, path in _children(schema):
        if not path:  # variants, allOf, conditions, dependent schemas: the same value, any branch
            visit(sub)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        patterns = schema.get("patternProperties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            matched = [properties[key]] if key in properties else []
            matched += [sub for pattern, sub in patterns.items() if _matches(pattern, key)]
            for sub in matched or ([extra] if isinstance(extra, dict) else []):
                visit(sub, item, (*parts, key))
    elif isinstance(value, list):
        tuple_key = "prefixItems" if isinstance(schema.get("prefixItems"), list) else "items"
        prefix = schema.get(tuple_key) if isinstance(schema.get(tuple_key), list) else []
        rest = schema.get("items") if isinstance(schema.get("items"), dict) else schema.get("additionalItems")
        for index, item in enumerate(value):
            visit(prefix[index] if index < len(prefix) else rest, item, (*parts, index))


def _matches(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return False


def is_sensitive(schema: dict) -> bool:
    return schema.get("x-sensitive") is True


def is_immutable(schema: dict) -> bool:
    return schema.get("x-immutable") is True


def is_only_increase(schema: dict) -> bool:
    return schema.get("x-only-increase") is True


def is_read_only(schema: dict) -> bool:
    return schema.get("readOnly") is True


def is_uncopyable(schema: dict) -> bool:
    return schema.get("x-copyable") is False


def sensitive_values(schema: Any, params: Any) -> list[Match]:
    """Every ``x-sensitive`` value in ``params``."""
    return matching_values(schema, params, is_sensitive)


def immutable_values(schema: Any, params: Any) -> list[Match]:
    """Every ``x-immutable`` value in ``params``."""
    return matching_values(schema, params, is_immutable)


def read_only_values(schema: Any, params: Any) -> list[Match]:
    """Every ``readOnly: true`` value in ``params``: the bundle sets it, nobody changes it."""
    return matching_values(schema, params, is_read_only)


def uncopyable_values(schema: Any, params: Any) -> list[Match]:
    """Every ``x-copyable: false`` value in ``params``: a fork of the environment leaves it for people to fill
    (a secret, a globally unique name, an identifier of something that exists once)."""
    return matching_values(schema, params, is_uncopyable)


def only_increase_values(schema: Any, params: Any) -> list[Match]:
    """Every ``x-only-increase`` value in ``params`` (a number that may only grow, or an enum value that may
    only move to a later option)."""
    return matching_values(schema, params, is_only_increase)
