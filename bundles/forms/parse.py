"""Parsing: a POST (or the GET of a redraw) back into params JSON, walking the schema as rendering does."""

from __future__ import annotations

import copy
import json
from typing import Any

from jsonpointer import JsonPointer, escape, unescape

from ..schema import MAX_DEPTH, MISSING, Resolver, as_text, combine, defaults, same
from ..schema import options as _options
from .build import pin_discriminators
from .fields import EXTRA, JSONED, LEN, MAPKEY, PREFIX, PRESENT, STALE, selector_name
from .hints import read_only_places


class _Parser:
    def __init__(
        self, resolver: Resolver, data, stored: dict, lock_immutable: bool, fill_defaults: bool = False, ui=None
    ):
        self.w = resolver
        # What the ui makes read-only (ui:readonly, ui:disabled) where the stored value has it: kept like readOnly.
        self.ui_locked = {"".join("/" + escape(str(p)) for p in parts) for parts in read_only_places(ui, stored)}
        self.data = data
        self.stored = stored
        self.lock_immutable = lock_immutable
        self.fill_defaults = fill_defaults
        # The paths of everything the form drew: every posted name (a value, a row count, a selector, a marker)
        # and the objects it lies in. A property outside them was not on screen: a redraw opened it.
        self.drawn: set[str] = set()
        for key in data.keys() if fill_defaults else ():
            head, slash, rest = key.partition("/")
            if slash and (head == PREFIX or head.startswith("_")):
                parts = rest.split("/")
                self.drawn.update("/" + "/".join(parts[:i]) for i in range(len(parts) + 1))

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def stored_at(self, pointer: str) -> Any:
        return JsonPointer(pointer).resolve(self.stored, MISSING)

    def kept(self, pointer: str) -> Any:
        found = self.stored_at(pointer)
        return MISSING if found is MISSING else copy.deepcopy(found)

    def value(self, pointer: str, name: str, schema: Any, required: bool, depth: int) -> Any:
        schema = self.w.resolve(schema)
        schema, nullable = self.w.nullable(schema)
        locked = (
            schema.get("readOnly") or (schema.get("x-immutable") and self.lock_immutable) or pointer in self.ui_locked
        )
        if locked and self.stored:
            # A locked field keeps what is stored, whatever the browser sends.
            return self.kept(pointer)
        if depth > MAX_DEPTH or schema.get("_unresolved") or self.get(JSONED + name[len(PREFIX) :]) is not None:
            return self.json(name)
        options = _options(schema)
        kind = self.w.kind(schema)
        if options is not None:
            raw = self.get(name)
            if raw is None or raw == "":
                allows_null = nullable or any(o is None for o, _ in options)
                return None if allows_null and required else MISSING
            found = _chosen(raw, [o for o, _ in options])
            if found is not MISSING:
                return found
            # Not an option: kept as typed, for validation to refuse.
            return _to_number(raw, kind) if kind in ("integer", "number") else raw
        if kind == "const":
            raw = self.get(name)
            if raw is None:
                # A required constant (a variant's discriminator) follows from choosing the variant.
                return copy.deepcopy(schema["const"]) if required else MISSING
            found = _chosen(raw, [schema["const"]]) if raw else MISSING
            if found is MISSING and raw and required and not raw.startswith(STALE):
                return copy.deepcopy(schema["const"])  # the discriminator of the variant chosen before the switch
            return found if found is not MISSING or not raw else raw
        found = self.w.variants(schema)
        if found and kind in (None, "object"):
            key, variants = found
            level = schema.get("_nest", 0)
            raw = self.get(selector_name(pointer, level))
            if raw is None or not raw.isdigit() or int(raw) >= len(variants):
                return MISSING
            merged = pin_discriminators(combine(self.w.variant_base(schema, key), variants[int(raw)]))
            return self.value(pointer, name, {**merged, "_nest": level + 1}, True, depth + 1)
        if kind == "boolean":
            raw = self.get(name)
            if self.w.tri_state(schema, nullable, required):
                if raw in ("true", "false"):
                    return raw == "true"
                if raw is None or raw == "":
                    return None if nullable and required and raw == "" else MISSING
                return raw  # not a choice the form offers: validation says so beside the field
            if raw is None and self.fill_defaults and name[len(PREFIX) :] not in self.drawn:
                return MISSING  # not on screen: not an unticked box (a redraw gives it its default)
            return MISSING if raw == "" else raw in ("on", "true", "1")  # a checkbox never posts ""
        if kind in ("integer", "number", "string"):
            raw = self.get(name)
            if raw is None or raw == "":
                if schema.get("x-sensitive"):
                    return self.kept(pointer)
                return None if nullable and required and raw == "" else MISSING
            if kind == "string":
                return raw.replace("\r\n", "\n")
            return _to_number(raw, kind)
        if kind == "object":
            if self.w.map_values(schema) is not None and self.get(EXTRA + pointer) is None:
                values_schema = self.w.resolve(self.w.map_values(schema))
                if self.w.kind(values_schema) not in ("string", "integer", "number", "boolean") and not _options(
                    values_schema
                ):
                    return self.json(name)  # drawn as JSON (values that are lists, objects or null): read as JSON
                return self.map(pointer, name, schema, required, depth)
            return self.object(pointer, name, schema, required, depth)
        if kind == "array":
            return self.array(pointer, name, schema, required, depth)
        return self.json(name)

    def json(self, name: str) -> Any:
        raw = self.get(name)
        if raw is None or raw.strip() == "":
            return MISSING
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # jsonschema reports it on this field instead of the form losing the input

    def object(self, pointer, name, schema, required, depth) -> Any:
        value: dict[str, Any] = {}
        seen: set[str] = set()
        extra = self.json(EXTRA + pointer)
        undeclared = extra if isinstance(extra, dict) else {}
        for _ in range(8):
            # Undeclared keys count too: a condition may be keyed on one (dependentSchemas, if: required).
            effective = self.w.effective_object(schema, {**undeclared, **value})
            new = [n for n in (effective.get("properties") or {}) if n not in seen]
            if not new:
                break
            for prop in new:
                seen.add(prop)
                sub = effective["properties"][prop]
                required_here = prop in (effective.get("required") or [])
                got = self.value(f"{pointer}/{escape(prop)}", f"{name}/{escape(prop)}", sub, required_here, depth + 1)
                if got is MISSING and self.fill_defaults and f"{name[len(PREFIX) :]}/{escape(prop)}" not in self.drawn:
                    # Opened by this redraw (a condition that now holds, a variant just chosen): its defaults.
                    got = defaults(self.w, sub, depth + 1)
                    got = MISSING if got == {} and not required_here else got
                if got is not MISSING:
                    value[prop] = got
        if isinstance(extra, dict):
            value.update({k: v for k, v in extra.items() if k not in value and k not in seen})
        elif extra is not MISSING:
            value["*"] = extra
        if pointer == "":
            # A posted value the schema does not declare is kept, so validation refuses it out loud.
            for key in self.data:
                if key.startswith(PREFIX + "/"):
                    top = unescape(key[len(PREFIX) + 1 :].split("/", 1)[0])
                    if top not in seen and top not in value:
                        value[top] = self.get(key)
            return value
        if required or self.get(PRESENT + pointer) is not None:
            return value
        return MISSING

    def map(self, pointer, name, schema, required, depth) -> Any:
        values_schema = self.w.map_values(schema)
        raw_len = self.get(LEN + pointer)
        if raw_len is None or not raw_len.isdigit():
            return {} if required else MISSING
        out = {}
        for index in range(int(raw_len)):
            key = self.get(f"{MAPKEY}{pointer}/{index}") or ""
            got = self.value(f"{pointer}/{escape(key)}", f"{name}/{index}", values_schema, True, depth + 1)
            out[key] = got if got is not MISSING else ""
        return out

    def array(self, pointer, name, schema, required, depth) -> Any:
        tuple_schemas = self.w.tuple_items(schema)
        item_schema = self.w.resolve(schema.get("items")) if tuple_schemas is None else None
        if item_schema is not None and schema.get("uniqueItems") and _options(item_schema) is not None:
            raws = self.data.getlist(name) if hasattr(self.data, "getlist") else self.data.get(name) or []
            raws = [raws] if isinstance(raws, str) else raws
            if not raws and self.get(LEN + pointer) is None:
                return [] if required else MISSING
            options = _options(item_schema)
            return [next((copy.deepcopy(o) for o, _ in options if as_text(o) == r), r) for r in raws]
        if tuple_schemas is None and not isinstance(schema.get("items"), dict):
            return self.json(name)
        raw_len = self.get(LEN + pointer)
        if raw_len is None or not raw_len.isdigit():
            return self.json(name) if self.get(name) is not None else ([] if required else MISSING)
        out = []
        for index in range(int(raw_len)):
            sub = (tuple_schemas[index] if index < len(tuple_schemas) else {}) if tuple_schemas else schema["items"]
            got = self.value(f"{pointer}/{index}", f"{name}/{index}", sub, True, depth + 1)
            if got is MISSING:
                # A blank row is still a row: validation says what it needs rather than the form dropping it.
                resolved = self.w.resolve(sub)
                got = {} if self.w.kind(resolved) == "object" else ""
            out.append(got)
        return out


def parse_post(
    schema: dict,
    data,
    *,
    stored: dict | None = None,
    lock_immutable: bool = False,
    fill_defaults: bool = False,
    ui: dict | None = None,
) -> dict:
    """Turn submitted form data back into params JSON.

    Values are converted by their schema type; a value that does not convert is kept as the text
    typed, so that jsonschema reports the error on that field instead of losing the input. Empty
    optional fields are left out. A blank sensitive field keeps the stored value, and a locked field
    (``readOnly``, ``ui:readonly`` or ``ui:disabled`` in ``ui``, or ``x-immutable`` with ``lock_immutable``) keeps
    the stored value whatever is posted (a stored "" too: it is not a blank left out).
    With ``fill_defaults`` (a redraw), a field the form did not draw (opened by a condition that now holds, a
    variant just chosen, a dynamic dependency's branch) starts from its default.
    """
    parser = _Parser(Resolver(schema), data, stored or {}, lock_immutable, fill_defaults, ui)
    value = parser.value("", PREFIX, schema, True, 0)
    return value if isinstance(value, dict) else {}


def _chosen(raw: str, options: list) -> Any:
    """The option ``raw`` posts (a stored 1.0 posts "1.0" for the option 1: it comes back 1.0), the stored value
    a ``json:`` option stands for, or MISSING."""
    for option in options:
        if as_text(option) == raw:
            return copy.deepcopy(option)
    if raw.startswith(STALE):
        try:
            return json.loads(raw[len(STALE) :])
        except ValueError:
            return MISSING
    try:
        parsed = json.loads(raw)
    except ValueError:
        return MISSING
    return parsed if any(same(parsed, option) for option in options) else MISSING


def _to_number(raw: str, kind: str) -> Any:
    text = raw.strip()
    try:
        as_float = float(text)
    except ValueError:
        return raw
    if as_float != as_float or as_float in (float("inf"), float("-inf")):
        return raw
    if as_float.is_integer() and not any(c in text for c in ".eE"):
        return int(text)
    return as_float
