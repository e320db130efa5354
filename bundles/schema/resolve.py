"""Reading a schema the way a form draws it: ``$ref`` followed, ``allOf`` folded in, conditions
evaluated against the current value, the ``oneOf``/``anyOf`` variant in use picked.

The form engine (building and parsing), the read-only display and the bundle linter read schemas
through :class:`Resolver`, so what is drawn, what is read back and what is linted agree.
jsonschema still validates the real thing; the combined schemas here are for drawing.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from referencing.exceptions import Unresolvable

from .dialect import is_legacy
from .labels import MISSING, as_text, options, same
from .refs import resolve_ref
from .validate import compile_validator

MAX_DEPTH = 12

# Keywords combined when two schemas apply to the same value: the stricter bound wins, for display.
_TAKE_MAX = {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"}
_TAKE_MIN = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"}


def combine(base: dict, extra: dict) -> dict:
    """Both schemas applied to one value, combined for drawing (jsonschema still validates the real thing)."""
    out = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(value, dict):
            props = dict(out.get("properties") or {})
            for name, sub in value.items():
                props[name] = combine(props[name], sub) if isinstance(props.get(name), dict) else sub
            out["properties"] = props
        elif key == "required" and isinstance(value, list):
            out["required"] = list(dict.fromkeys([*(out.get("required") or []), *value]))
        elif key in ("allOf", "_conditions") and isinstance(value, list):
            out[key] = [*(out.get(key) or []), *value]
        elif key in _TAKE_MAX and isinstance(out.get(key), (int, float)) and isinstance(value, (int, float)):
            out[key] = max(out[key], value)
        elif key in _TAKE_MIN and isinstance(out.get(key), (int, float)) and isinstance(value, (int, float)):
            out[key] = min(out[key], value)
        else:
            out[key] = value
    return out


class Resolver:
    """One schema, read for drawing: resolves ``$ref``/``allOf``, evaluates conditions, picks variants."""

    def __init__(self, schema: dict):
        self.root = schema if isinstance(schema, dict) else {}
        self.validator = compile_validator(self.root)
        self.legacy = is_legacy(self.root)

    def resolve(self, schema: Any, depth: int = 0) -> dict:
        """The schema with ``$ref`` followed, ``allOf`` folded in and conditions gathered under ``_conditions``."""
        if schema is True or not isinstance(schema, dict):
            return {}
        out = dict(schema)
        hops = 0
        while isinstance(out.get("$ref"), str) and hops < 32:
            target = resolve_ref(self.root, out.pop("$ref"))
            if target is None:  # remote (never fetched: lint refuses these) or missing
                out["_unresolved"] = True
                break
            out = combine(dict(target), out)
            hops += 1
        conditions = list(out.pop("_conditions", []))
        if "if" in out:
            conditions.append({"if": out.pop("if"), "then": out.pop("then", None), "else": out.pop("else", None)})
        if "dependentSchemas" in out:
            conditions += [{"when": k, "then": v} for k, v in (out.pop("dependentSchemas") or {}).items()]
        if "dependencies" in out:
            for trigger, dep in (out.pop("dependencies") or {}).items():
                if isinstance(dep, list):
                    out.setdefault("dependentRequired", {})[trigger] = dep
                else:
                    conditions.append({"when": trigger, "then": dep})
        for sub in out.pop("allOf", []) or []:
            resolved = self.resolve(sub, depth + 1) if depth < MAX_DEPTH else {}
            conditions += resolved.pop("_conditions", [])
            out = combine(out, resolved)
        if self.legacy:
            for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
                if out.get(exclusive) is True and bound in out:
                    out[exclusive] = out.pop(bound)
                elif out.get(exclusive) is False:
                    out.pop(exclusive)
        if conditions:
            out["_conditions"] = conditions
        return out

    def holds(self, schema: Any, value: Any) -> bool:
        try:
            return self.validator.evolve(schema=schema).is_valid(value)
        except (jsonschema.exceptions.SchemaError, Unresolvable, TypeError):
            return False

    def effective_object(self, schema: dict, value: Any) -> dict:
        """An object schema with the conditions that hold for ``value`` merged in; repeated while new ones apply."""
        value = value if isinstance(value, dict) else {}
        out = {k: v for k, v in schema.items() if k != "_conditions"}
        pending = list(schema.get("_conditions") or [])
        for _ in range(8):
            still, applied = [], False
            for cond in pending:
                if "when" in cond:
                    branch = cond["then"] if cond["when"] in value else None
                else:
                    branch = cond["then"] if self.holds(cond["if"], value) else cond["else"]
                if branch is None:
                    still.append(cond) if "when" in cond else None
                    continue
                resolved = self.resolve(branch)
                still += resolved.pop("_conditions", [])
                if "when" in cond:
                    resolved = self.dynamic_branch(resolved, cond["when"], value)
                out = combine(out, resolved)
                applied = True
            pending = still
            if not applied:
                break
        for trigger, needed in (out.get("dependentRequired") or {}).items():
            if trigger in value:
                out["required"] = list(dict.fromkeys([*(out.get("required") or []), *needed]))
        return out

    def discriminated(self, schema: dict, name: str) -> tuple[str, list[dict]] | None:
        """(``oneOf``/``anyOf``, its branches) when every branch pins property ``name`` with a ``const`` or an
        ``enum``: rjsf's dynamic dependencies. None when the branches cannot be told apart by ``name``."""
        found = self.variants(schema)
        if not found:
            return None
        for variant in found[1]:
            pin = self.resolve((variant.get("properties") or {}).get(name))
            if "const" not in pin and not isinstance(pin.get("enum"), list):
                return None
        return found

    def dynamic_branch(self, schema: dict, name: str, value: dict) -> dict:
        """A ``dependencies``/``dependentSchemas`` branch with its ``oneOf`` keyed by ``name`` settled: the
        variant whose ``const``/``enum`` holds ``value[name]`` is merged in (without its pin on ``name``,
        which would narrow the controlling field to the one value chosen). Unsettled when none matches."""
        found = self.discriminated(schema, name)
        if found is None:
            return schema
        key, variants = found
        current = value.get(name, MISSING)
        for variant in variants:
            pin = self.resolve((variant.get("properties") or {}).get(name))
            allowed = [pin["const"]] if "const" in pin else pin["enum"]
            if any(same(current, a) for a in allowed):
                rest = {k: v for k, v in schema.items() if k != key}
                chosen = dict(variant)
                chosen["properties"] = {k: v for k, v in (variant.get("properties") or {}).items() if k != name}
                chosen.pop("title", None)
                return combine(rest, chosen)
        return {k: v for k, v in schema.items() if k != key}

    @staticmethod
    def controllers(schema: dict) -> set[str]:
        """Properties whose value decides a condition: changing one re-renders the form."""
        names: set[str] = set()
        for cond in schema.get("_conditions") or []:
            if "when" in cond:
                names.add(cond["when"])
            elif isinstance(cond.get("if"), dict):
                names |= set((cond["if"].get("properties") or {}).keys()) | set(cond["if"].get("required") or [])
        names |= set((schema.get("dependentRequired") or {}).keys())
        return names

    @staticmethod
    def tri_state(schema: dict, nullable: bool, required: bool) -> bool:
        """Whether a boolean is drawn Yes / No / Not set rather than as a checkbox: it may be null, or it is
        optional with no default (a checkbox cannot say "not set", so it would store false)."""
        return nullable or (not required and "default" not in schema)

    def nullable(self, schema: dict) -> tuple[dict, bool]:
        """(the non-null part, whether null is allowed) for ``type: [x, null]`` and ``anyOf: [x, {type: null}]``."""
        kind = schema.get("type")
        if isinstance(kind, list) and "null" in kind:
            rest = [k for k in kind if k != "null"]
            return {**schema, "type": rest[0] if len(rest) == 1 else rest}, True
        for key in ("anyOf", "oneOf"):
            variants = schema.get(key)
            if isinstance(variants, list) and len(variants) == 2:
                nulls = [v for v in variants if isinstance(v, dict) and v.get("type") == "null"]
                if len(nulls) == 1:
                    other = next(v for v in variants if v is not nulls[0])
                    base = {k: v for k, v in schema.items() if k != key}
                    return combine(base, self.resolve(other)), True
        return schema, False

    def variants(self, schema: dict) -> tuple[str, list[dict]] | None:
        """(``oneOf`` or ``anyOf``, its branches resolved), when the schema offers variants."""
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return key, [self.resolve(v) for v in schema[key]]
        return None

    @staticmethod
    def variant_base(schema: dict, key: str) -> dict:
        """What every variant of ``schema`` shares: the schema without its ``oneOf``/``anyOf``."""
        return {k: v for k, v in schema.items() if k != key}

    def active_variant(self, variants: list[dict], base: dict, value: Any) -> int:
        """The index of the variant ``value`` is in (the first that validates, else by a constant discriminator)."""
        if value is MISSING:
            return 0
        for index, variant in enumerate(variants):
            if self.holds(combine(base, variant), value):
                return index
        # None validates: pick the branch whose constant discriminator matches, else the closest.
        for index, variant in enumerate(variants):
            for name, sub in (variant.get("properties") or {}).items():
                discriminator = isinstance(sub, dict) and "const" in sub and isinstance(value, dict)
                if discriminator and same(value.get(name, MISSING), sub["const"]):
                    return index
        return min(range(len(variants)), key=lambda i: (*self.distance(combine(base, variants[i]), value), i))

    def distance(self, schema: dict, value: Any) -> tuple[bool, int]:
        """How far ``value`` is from ``schema``: (its type or a constant already fails, how many errors). The
        closest branch is the one the developer most likely meant: its errors are the ones worth showing
        (validation picks the same branch to place them, ``validate._closest_branch``)."""
        try:
            errors = list(self.validator.evolve(schema=schema).iter_errors(value))
        except (jsonschema.exceptions.SchemaError, Unresolvable, TypeError, RecursionError):
            return True, 10**6
        mismatch = any(e.validator in ("const", "type", "enum") and len(e.relative_path) <= 1 for e in errors)
        return mismatch, len(errors)

    def chosen(self, schema: dict, value: Any) -> tuple[dict, dict | None, int]:
        """(the schema that applies to ``value``, the chosen variant or None, its index): the variant in use
        combined with what all variants share. A plain enum of constants is not a variant."""
        found = self.variants(schema)
        if not found or options(schema) is not None:
            return schema, None, -1
        key, variants = found
        base = self.variant_base(schema, key)
        index = self.active_variant(variants, base, value)
        return combine(self.resolve(base), variants[index]), variants[index], index

    @staticmethod
    def kind(schema: dict) -> str | None:
        """The value's JSON type as drawn: ``const`` for a constant; inferred from keywords when untyped."""
        kind = schema.get("type")
        if isinstance(kind, list):
            return kind[0] if len(kind) == 1 else None
        if kind is None:
            if "const" in schema:
                return "const"
            if "properties" in schema or "additionalProperties" in schema:
                return "object"
            if "items" in schema or "prefixItems" in schema:
                return "array"
        return kind

    @staticmethod
    def tuple_items(schema: dict) -> list | None:
        if isinstance(schema.get("prefixItems"), list):
            return schema["prefixItems"]
        if isinstance(schema.get("items"), list):  # draft-07 tuple form
            return schema["items"]
        return None

    @staticmethod
    def map_values(schema: dict) -> dict | None:
        """The value schema of a map (an object with no fixed properties and typed additionalProperties)."""
        extra = schema.get("additionalProperties")
        if not schema.get("properties") and isinstance(extra, dict) and not schema.get("patternProperties"):
            return extra
        return None

    def at(self, schema: dict, pointer_parts: list[str], params: Any) -> dict:
        """The resolved schema governing the value at ``pointer_parts`` of ``params`` (conditions and
        variants as currently chosen), without its null alternative."""
        node = self.resolve(schema)
        value = params
        for part in pointer_parts:
            node, _ = self.nullable(node)
            chosen, variant, _ = self.chosen(node, value)
            node = self.resolve(chosen) if variant is not None else node
            if isinstance(value, dict) or self.kind(node) == "object":
                extra = self.map_values(node)
                properties = self.effective_object(node, value).get("properties") or {}
                node = self.resolve(extra if extra is not None else properties.get(part, {}))
                value = value.get(part, MISSING) if isinstance(value, dict) else MISSING
            else:
                tuple_schemas = self.tuple_items(node)
                index = int(part) if part.isdigit() else 0
                sub = tuple_schemas[index] if tuple_schemas and index < len(tuple_schemas) else node.get("items")
                node = self.resolve(sub)
                value = value[index] if isinstance(value, list) and index < len(value) else MISSING
        return self.nullable(node)[0]


__all__ = ["MAX_DEPTH", "MISSING", "Resolver", "as_text", "combine", "same"]
