"""The schema-to-form engine: JSON Schema (+ ui schema) in, a tree of form fields out; a POST back to JSON.

Every form that edits params goes through this module: new deployment, edit, presets and the htmx
fragments (live validation, variant switch, conditional fields, array rows).

Names. A value's input is named ``param`` + its JSON pointer (``param/storage/gb``,
``param/rules/1/port``), so jsonschema's errors, reported by pointer, land beside their field.
Structure the browser must send back but that holds no value travels in hidden inputs under other
prefixes, which can never collide with a property name: ``_len/rules`` (rows in an array),
``_variant/auth`` (the chosen ``oneOf``/``anyOf`` branch, blank for "not set"), ``_present/storage``
(an optional object that exists even if empty), ``_extra/x`` (undeclared keys, as JSON) and
``_mapk/tags/0`` (a map's keys).

Rendering and parsing walk the schema the same way (``_Walker``), so what is drawn is what is read.
Conditionals (``if``/``then``/``else``, ``dependentSchemas``, ``dependentRequired`` and draft-07
``dependencies``) are evaluated against the current values: a field appears when its condition holds.
What the engine cannot draw is edited as JSON with a visible notice; nothing is dropped silently.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from referencing.exceptions import Unresolvable

from .schema import compile_validator

PREFIX = "param"
LEN, VARIANT, PRESENT, EXTRA, MAPKEY = "_len", "_variant", "_present", "_extra", "_mapk"
_MISSING = object()
MAX_DEPTH = 12
RADIO_MAX = 4
JSON_NOTICE = "This field is edited as JSON: the form cannot draw it yet."

# Keywords combined when two schemas apply to the same value: the stricter bound wins, for display.
_TAKE_MAX = {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"}
_TAKE_MIN = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"}


@dataclass
class Choice:
    value: str
    label: str
    selected: bool = False


@dataclass
class FormField:
    """One node of the form. Scalars have a widget; ``object``, ``array``, ``map`` and ``variant`` nest.

    widget is one of: text, textarea, password, number, range, select, radio, checkbox,
    multiselect, const, json, object, array, map, variant.
    """

    pointer: str
    name: str
    label: str
    widget: str
    value: str = ""
    checked: bool = False
    required: bool = False
    help: SafeString | str = ""
    unit: str = ""
    choices: list[Choice] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notice: str = ""
    sensitive: bool = False
    has_stored_secret: bool = False
    locked: bool = False
    locked_reason: str = ""
    refresh: bool = False  # a change re-renders the form: it controls a condition or a variant
    children: list[FormField] = field(default_factory=list)
    rows: list[FormField] = field(default_factory=list)
    hidden: list[tuple[str, str]] = field(default_factory=list)
    can_add: bool = False
    can_remove: bool = False
    key_name: str = ""  # a map row: the input holding the key
    key_value: str = ""
    group: str = ""
    depth: int = 0

    @property
    def html_id(self) -> str:
        return "f" + self.name[len(PREFIX) :].replace("/", "-").replace("~", "_").replace(" ", "_")

    @property
    def path(self) -> str:
        """The name without its prefix: the pointer, with row indexes for map entries too."""
        return self.name[len(PREFIX) :]

    @property
    def error_id(self) -> str:
        return self.html_id + "-errors"

    @property
    def help_id(self) -> str:
        return self.html_id + "-help"

    @property
    def described_by(self) -> str:
        ids = []
        if self.help or self.unit or "min" in self.attrs or "max" in self.attrs:
            ids.append(self.help_id)
        if self.errors:
            ids.append(self.error_id)
        return " ".join(ids)

    def walk(self):
        """This node and every node below it."""
        yield self
        for child in (*self.children, *self.rows):
            yield from child.walk()


def render_markdown(text: str) -> SafeString:
    """Markdown to HTML, sanitised: bundle text is trusted to ops, never to run scripts."""
    if not text:
        return mark_safe("")
    html = markdown.markdown(str(text), extensions=["extra"])
    return mark_safe(nh3.clean(html, link_rel="noopener noreferrer"))


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _as_text(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but True != 1."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _merge(base: dict, extra: dict) -> dict:
    """Both schemas applied to one value, combined for drawing (jsonschema still validates the real thing)."""
    out = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(value, dict):
            props = dict(out.get("properties") or {})
            for name, sub in value.items():
                props[name] = _merge(props[name], sub) if isinstance(props.get(name), dict) else sub
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


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


class _Walker:
    """Shared by rendering and parsing: resolves ``$ref``/``allOf``, evaluates conditions, picks variants."""

    def __init__(self, schema: dict, *, lock_immutable: bool = False):
        self.root = schema if isinstance(schema, dict) else {}
        self.validator = compile_validator(self.root)
        self.lock_immutable = lock_immutable
        draft = self.root.get("$schema", "")
        self.legacy = any(d in str(draft) for d in ("draft-04", "draft-06", "draft-07"))

    # --- schema mechanics -------------------------------------------------------------------

    def _lookup(self, ref: str) -> dict | None:
        if ref == "#":
            return self.root
        if not ref.startswith("#/"):
            return None  # remote: never fetched (lint refuses these)
        node: Any = self.root
        for part in ref[2:].split("/"):
            part = _unescape(part)
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return None
        return node if isinstance(node, dict) else None

    def resolve(self, schema: Any, depth: int = 0) -> dict:
        """The schema with ``$ref`` followed, ``allOf`` folded in and conditions gathered under ``_conditions``."""
        if schema is True or not isinstance(schema, dict):
            return {}
        out = dict(schema)
        hops = 0
        while isinstance(out.get("$ref"), str) and hops < 32:
            target = self._lookup(out.pop("$ref"))
            if target is None:
                out["_unresolved"] = True
                break
            out = _merge(dict(target), out)
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
            out = _merge(out, resolved)
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
                out = _merge(out, resolved)
                applied = True
            pending = still
            if not applied:
                break
        for trigger, needed in (out.get("dependentRequired") or {}).items():
            if trigger in value:
                out["required"] = list(dict.fromkeys([*(out.get("required") or []), *needed]))
        return out

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
                    return _merge(base, self.resolve(other)), True
        return schema, False

    @staticmethod
    def options(schema: dict) -> list[tuple[Any, str]] | None:
        """Enum values with their labels, or None when the value is not an enum."""
        if isinstance(schema.get("enum"), list):
            titles = schema.get("x-enum-titles") or {}
            if isinstance(titles, list):
                titles = {str(v): t for v, t in zip(schema["enum"], titles, strict=False)}
            return [(v, str(titles.get(_as_text(v), _as_text(v)))) for v in schema["enum"]]
        for key in ("oneOf", "anyOf"):
            variants = schema.get(key)
            if variants and all(isinstance(v, dict) and "const" in v for v in variants):
                return [(v["const"], str(v.get("title", _as_text(v["const"])))) for v in variants]
        return None

    def variants(self, schema: dict) -> tuple[str, list[dict]] | None:
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return key, [self.resolve(v) for v in schema[key]]
        return None

    def variant_base(self, schema: dict, key: str) -> dict:
        return {k: v for k, v in schema.items() if k != key}

    def active_variant(self, variants: list[dict], base: dict, value: Any) -> int:
        if value is _MISSING:
            return 0
        for index, variant in enumerate(variants):
            if self.holds(_merge(base, variant), value):
                return index
        # None validates: pick the branch whose constant discriminator matches, else the first.
        for index, variant in enumerate(variants):
            for name, sub in (variant.get("properties") or {}).items():
                discriminator = isinstance(sub, dict) and "const" in sub and isinstance(value, dict)
                if discriminator and _same(value.get(name, _MISSING), sub["const"]):
                    return index
        return 0

    @staticmethod
    def variant_title(variant: dict, index: int) -> str:
        if variant.get("title"):
            return str(variant["title"])
        for sub in (variant.get("properties") or {}).values():
            if isinstance(sub, dict) and "const" in sub:
                return str(sub.get("title") or _as_text(sub["const"]))
        kind = variant.get("type")
        return str(kind).capitalize() if isinstance(kind, str) else f"Option {index + 1}"

    @staticmethod
    def kind(schema: dict) -> str | None:
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

    def tuple_items(self, schema: dict) -> list | None:
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


# --- rendering ----------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, walker: _Walker, errors: dict, stored_secrets: set[str]):
        self.w = walker
        self.errors = errors
        self.stored_secrets = stored_secrets

    def node(self, label_name, pointer, name, schema, ui, value, required, depth) -> FormField:
        ui = ui if isinstance(ui, dict) else {}
        schema = self.w.resolve(schema)
        schema, _nullable = self.w.nullable(schema)
        f = FormField(
            pointer=pointer,
            name=name,
            label=str(ui.get("ui:title") or schema.get("title") or str(label_name).replace("_", " ").capitalize()),
            widget="text",
            required=required,
            help=render_markdown(ui.get("ui:help") or schema.get("description") or ""),
            unit=str(schema.get("x-unit", "")),
            errors=list(self.errors.get(pointer, [])),
            group=str(ui.get("ui:group") or ""),
            depth=depth,
        )
        if ui.get("ui:placeholder"):
            f.attrs["placeholder"] = ui["ui:placeholder"]
        if schema.get("readOnly"):
            f.locked, f.locked_reason = True, "Read-only: set by the bundle."
        elif schema.get("x-immutable") and self.w.lock_immutable:
            f.locked, f.locked_reason = True, "Cannot be changed after the first successful apply."
        if depth > MAX_DEPTH or schema.get("_unresolved"):
            return self.json(f, value)
        options = self.w.options(schema)
        if options is not None:
            return self.choice(f, schema, ui, options, value)
        kind = self.w.kind(schema)
        if kind == "const":
            f.widget, f.value = "const", _as_text(schema["const"])
            return f
        found = self.w.variants(schema)
        if found and kind in (None, "object"):
            return self.variant(f, schema, ui, found, value, depth)
        if kind == "boolean":
            f.widget = "checkbox"
            f.checked = value is True if value is not _MISSING else schema.get("default") is True
            return f
        if kind in ("integer", "number"):
            return self.number(f, schema, ui, kind, value)
        if kind == "string":
            return self.string(f, schema, ui, value)
        if kind == "object":
            if self.w.map_values(schema) is not None:
                return self.map(f, schema, value, depth)
            return self.object(f, schema, ui, value, depth)
        if kind == "array":
            return self.array(f, schema, ui, value, required, depth)
        return self.json(f, value)

    def json(self, f: FormField, value: Any) -> FormField:
        f.widget = "json"
        f.value = json.dumps(value, indent=2) if value is not _MISSING else ""
        f.notice = JSON_NOTICE
        return f

    def choice(self, f, schema, ui, options, value) -> FormField:
        options = [(v, label) for v, label in options if v is not None]  # the blank choice stands for null
        current = _as_text(value)
        chosen = [v for v, _ in options if value is not _MISSING and _same(v, value)]
        widget = ui.get("ui:widget")
        f.widget = widget if widget in ("select", "radio") else ("radio" if len(options) <= RADIO_MAX else "select")
        if not f.required or not chosen:
            f.choices.append(Choice("", "— choose —" if f.required else "(not set)", not chosen))
        f.choices += [Choice(_as_text(v), label, bool(chosen) and _as_text(v) == current) for v, label in options]
        return f

    def number(self, f, schema, ui, kind, value) -> FormField:
        f.widget = "number"
        f.value = _as_text(value)
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if isinstance(schema.get(key), (int, float)) and not isinstance(schema.get(key), bool):
                f.attrs[attr] = schema[key]
        for key, attr in (("exclusiveMinimum", "gt"), ("exclusiveMaximum", "lt")):
            if isinstance(schema.get(key), (int, float)) and not isinstance(schema.get(key), bool):
                f.attrs[attr] = schema[key]
        f.attrs["step"] = schema.get("multipleOf") or (1 if kind == "integer" else "any")
        if ui.get("ui:widget") == "range" and "min" in f.attrs and "max" in f.attrs:
            f.widget = "range"
            if value is _MISSING:
                f.notice = "Not set: move the slider to choose a value."
        return f

    def string(self, f, schema, ui, value) -> FormField:
        f.value = _as_text(value)
        if schema.get("x-sensitive"):
            f.widget, f.value, f.sensitive = "password", "", True
            f.has_stored_secret = f.pointer in self.stored_secrets
        elif ui.get("ui:widget") == "textarea" or schema.get("format") == "textarea" or "\n" in f.value:
            f.widget = "textarea"  # a single-line input would strip the line breaks
        elif ui.get("ui:widget") == "password":
            f.widget = "password"
        for key, attr in (("pattern", "pattern"), ("maxLength", "maxlength"), ("minLength", "minlength")):
            if key in schema:
                f.attrs[attr] = schema[key]
        fmt = schema.get("format")
        if fmt in ("email", "uri", "date") and f.widget == "text":
            f.attrs["type"] = {"email": "email", "uri": "url", "date": "date"}[fmt]
        return f

    def object(self, f, schema, ui, value, depth) -> FormField:
        f.widget = "object"
        current = value if isinstance(value, dict) else {}
        if f.pointer and not f.required:
            # An optional section is switched on explicitly: absent and {} are different params.
            f.attrs["toggle_name"] = PRESENT + f.pointer
            f.attrs["toggle_id"] = f.html_id + "-present"
            f.checked = isinstance(value, dict)
            if not f.checked:
                return f
        effective = self.w.effective_object(schema, current)
        properties = effective.get("properties") or {}
        required = set(effective.get("required") or [])
        controllers = self.w.controllers(schema) | self.w.controllers(effective)
        order = list(ui.get("ui:order") or [])
        if "*" in order:
            rest = [n for n in properties if n not in order]
            star = order.index("*")
            order = order[:star] + rest + order[star + 1 :]
        names = [n for n in order if n in properties] + [n for n in properties if n not in order]
        for prop in names:
            sub = properties[prop]
            child_value = current.get(prop, _MISSING) if isinstance(value, dict) else _MISSING
            child = self.node(
                prop,
                f"{f.pointer}/{_escape(prop)}",
                f"{f.name}/{_escape(prop)}",
                sub if isinstance(sub, dict) else {},
                ui.get(prop) or {},
                child_value,
                prop in required,
                depth + 1,
            )
            child.refresh = child.refresh or prop in controllers
            f.children.append(child)
        extra = {k: v for k, v in current.items() if k not in properties}
        if extra:
            f.children.append(
                FormField(
                    pointer=f.pointer + "#other",  # not a real pointer: no key can collide with it
                    name=EXTRA + f.pointer,
                    label="Other fields",
                    widget="json",
                    value=json.dumps(extra, indent=2),
                    notice="These keys are not declared by the schema, so the form cannot draw them: edit as JSON.",
                    depth=depth + 1,
                )
            )
        return f

    def map(self, f, schema, value, depth) -> FormField:
        values_schema = self.w.resolve(self.w.map_values(schema))
        if self.w.kind(values_schema) not in ("string", "integer", "number", "boolean") and not self.w.options(
            values_schema
        ):
            return self.json(f, value)
        f.widget = "map"
        items = list(value.items()) if isinstance(value, dict) else []
        if isinstance(value, dict):
            f.hidden.append((LEN + f.pointer, str(len(items))))
        for index, (key, item) in enumerate(items):
            row = self.node(
                key, f"{f.pointer}/{_escape(key)}", f"{f.name}/{index}", values_schema, {}, item, True, depth + 1
            )
            row.label, row.key_name, row.key_value = f"Value for key {index + 1}", f"{MAPKEY}{f.pointer}/{index}", key
            f.rows.append(row)
        f.can_add = not f.locked
        f.can_remove = not f.locked
        return f

    def array(self, f, schema, ui, value, required, depth) -> FormField:
        items = value if isinstance(value, list) else []
        item_ui = ui.get("items") if isinstance(ui.get("items"), dict) else {}
        tuple_schemas = self.w.tuple_items(schema)
        item_schema = self.w.resolve(schema.get("items")) if tuple_schemas is None else None
        for key, attr in (("minItems", "minitems"), ("maxItems", "maxitems")):
            if key in schema:
                f.attrs[attr] = schema[key]
        if tuple_schemas is None and item_schema is not None and schema.get("uniqueItems"):
            options = self.w.options(item_schema)
            if options is not None:
                f.widget = "multiselect"
                chosen = [_as_text(v) for v in items]
                # Selected options first, in the value's order: a browser posts them in document order.
                ordered = sorted(
                    options, key=lambda o: chosen.index(_as_text(o[0])) if _as_text(o[0]) in chosen else 1e9
                )
                f.choices = [Choice(_as_text(v), label, _as_text(v) in chosen) for v, label in ordered]
                if isinstance(value, list):
                    f.hidden.append((LEN + f.pointer, str(len(items))))
                return f
        if tuple_schemas is None and not isinstance(schema.get("items"), dict):
            return self.json(f, value)
        if tuple_schemas is not None and len(items) > len(tuple_schemas):
            return self.json(f, value)
        f.widget = "array"
        if tuple_schemas is not None:
            count = len(tuple_schemas) if (isinstance(value, list) or required) else 0
            if isinstance(value, list):
                count = len(items)
        else:
            count = len(items)
        if isinstance(value, list) or count:
            f.hidden.append((LEN + f.pointer, str(count)))
        for index in range(count):
            sub = tuple_schemas[index] if tuple_schemas is not None else schema["items"]
            row = self.node(
                f"{f.label} item {index + 1}",
                f"{f.pointer}/{index}",
                f"{f.name}/{index}",
                sub,
                item_ui,
                items[index] if index < len(items) else _MISSING,
                True,
                depth + 1,
            )
            if row.widget not in ("object", "array", "variant", "map"):
                row.label = f"{f.label} item {index + 1}"
            f.rows.append(row)
        if tuple_schemas is None and not f.locked:
            f.can_add = count < schema.get("maxItems", 10**9)
            f.can_remove = count > schema.get("minItems", 0)
        return f

    def variant(self, f, schema, ui, found, value, depth) -> FormField:
        key, variants = found
        base = self.w.variant_base(schema, key)
        f.widget = "variant"
        f.refresh = True
        chosen = self.w.active_variant(variants, base, value) if value is not _MISSING else -1
        f.choices.append(Choice("", "— choose —" if f.required else "(not set)", chosen < 0))
        f.choices += [Choice(str(i), self.w.variant_title(v, i), i == chosen) for i, v in enumerate(variants)]
        f.attrs["selector_name"] = VARIANT + f.pointer
        f.attrs["selector_id"] = f.html_id + "-variant"
        if chosen >= 0:
            merged = _merge(base, variants[chosen])
            merged.pop("title", None)
            child = self.node(f.label, f.pointer, f.name, merged, ui, value, True, depth + 1)
            child.errors = []  # the variant's own errors are shown once, on the selector
            child.help = ""
            f.children.append(child)
        return f


def build_fields(
    schema: dict,
    ui: dict | None = None,
    values: dict | None = None,
    errors: dict[str, list[str]] | None = None,
    *,
    stored_secrets: set[str] | None = None,
    lock_immutable: bool = False,
) -> list[FormField]:
    """The fields for a params object, in ``ui:order`` order, filled from ``values`` (or the defaults).

    ``stored_secrets`` are pointers (or top-level names) of sensitive values already stored: their
    field says so and a blank submission keeps them. ``lock_immutable`` makes ``x-immutable``
    fields read-only (after the deployment's first successful apply).
    """
    walker = _Walker(schema, lock_immutable=lock_immutable)
    secrets = {s if s.startswith("/") else "/" + _escape(s) for s in (stored_secrets or set())}
    builder = _Builder(walker, errors or {}, secrets)
    start = values if values is not None else _defaults(walker, schema)
    root = builder.node("params", "", PREFIX, schema, ui or {}, start, True, 0)
    return root.children if root.widget == "object" else [root]


def all_fields(fields: list[FormField]):
    for f in fields:
        yield from f.walk()


def find_field(fields: list[FormField], name: str) -> FormField | None:
    """The node whose input (or variant selector) is named ``name``: the target of a live validation."""
    for f in all_fields(fields):
        if name in (f.name, f.attrs.get("selector_name"), f.key_name):
            return f
    return None


def unplaced_errors(fields: list[FormField], errors: dict[str, list[str]]) -> list[str]:
    """Errors with no field to stand beside (the object itself, undeclared keys), for the top of the form."""
    placed = {f.pointer for f in all_fields(fields)}
    return [
        f"{pointer}: {message}" if pointer else message
        for pointer, messages in errors.items()
        if pointer not in placed
        for message in messages
    ]


def _defaults(walker: _Walker, schema: Any, depth: int = 0) -> Any:
    """The value a fresh form starts from: defaults, nested objects' defaults included."""
    resolved = walker.resolve(schema)
    if "default" in resolved:
        return copy.deepcopy(resolved["default"])
    if depth > MAX_DEPTH or walker.kind(resolved) != "object" or walker.variants(resolved):
        return _MISSING
    out = {}
    for name, sub in (resolved.get("properties") or {}).items():
        value = _defaults(walker, sub, depth + 1)
        if value is not _MISSING and (value != {} or name in (resolved.get("required") or [])):
            out[name] = value
    return out if out or depth == 0 else _MISSING


def initial_values(schema: dict, preset: dict | None = None) -> dict:
    """What a new form starts with: the schema's defaults, overlaid by a preset's params."""
    values = _defaults(_Walker(schema), schema)
    values = values if isinstance(values, dict) else {}
    if preset:
        values.update(copy.deepcopy(preset.get("params") or {}))
    return values


# --- parsing ------------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, walker: _Walker, data, stored: dict):
        self.w = walker
        self.data = data
        self.stored = stored

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def stored_at(self, pointer: str) -> Any:
        node: Any = self.stored
        for part in pointer.split("/")[1:]:
            part = _unescape(part)
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return _MISSING
        return node

    def kept(self, pointer: str) -> Any:
        found = self.stored_at(pointer)
        return _MISSING if found is _MISSING else copy.deepcopy(found)

    def value(self, pointer: str, name: str, schema: Any, required: bool, depth: int) -> Any:
        schema = self.w.resolve(schema)
        schema, nullable = self.w.nullable(schema)
        locked = schema.get("readOnly") or (schema.get("x-immutable") and self.w.lock_immutable)
        if locked and self.stored:
            # A locked field keeps what is stored, whatever the browser sends.
            return self.kept(pointer)
        if depth > MAX_DEPTH or schema.get("_unresolved"):
            return self.json(name)
        options = self.w.options(schema)
        kind = self.w.kind(schema)
        if options is not None:
            raw = self.get(name)
            if raw is None or raw == "":
                allows_null = nullable or any(o is None for o, _ in options)
                return None if allows_null and required else _MISSING
            for option, _ in options:
                if _as_text(option) == raw:
                    return copy.deepcopy(option)
            return raw
        if kind == "const":
            # A required constant (a variant's discriminator) follows from choosing the variant.
            return copy.deepcopy(schema["const"]) if required or self.get(name) is not None else _MISSING
        found = self.w.variants(schema)
        if found and kind in (None, "object"):
            key, variants = found
            raw = self.get(VARIANT + pointer)
            if raw is None or not raw.isdigit() or int(raw) >= len(variants):
                return _MISSING
            merged = _merge(self.w.variant_base(schema, key), variants[int(raw)])
            return self.value(pointer, name, merged, True, depth + 1)
        if kind == "boolean":
            return self.get(name) in ("on", "true", "1")
        if kind in ("integer", "number", "string"):
            raw = self.get(name)
            if raw is None or raw == "":
                if schema.get("x-sensitive"):
                    return self.kept(pointer)
                return None if nullable and required and raw == "" else _MISSING
            if kind == "string":
                return raw.replace("\r\n", "\n")
            return _to_number(raw, kind)
        if kind == "object":
            if self.w.map_values(schema) is not None and self.get(EXTRA + pointer) is None:
                return self.map(pointer, name, schema, required, depth)
            return self.object(pointer, name, schema, required, depth)
        if kind == "array":
            return self.array(pointer, name, schema, required, depth)
        return self.json(name)

    def json(self, name: str) -> Any:
        raw = self.get(name)
        if raw is None or raw.strip() == "":
            return _MISSING
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # jsonschema reports it on this field instead of the form losing the input

    def object(self, pointer, name, schema, required, depth) -> Any:
        value: dict[str, Any] = {}
        seen: set[str] = set()
        for _ in range(8):
            effective = self.w.effective_object(schema, value)
            new = [n for n in (effective.get("properties") or {}) if n not in seen]
            if not new:
                break
            for prop in new:
                seen.add(prop)
                sub = effective["properties"][prop]
                got = self.value(
                    f"{pointer}/{_escape(prop)}",
                    f"{name}/{_escape(prop)}",
                    sub,
                    prop in (effective.get("required") or []),
                    depth + 1,
                )
                if got is not _MISSING:
                    value[prop] = got
        extra = self.json(EXTRA + pointer)
        if isinstance(extra, dict):
            value.update({k: v for k, v in extra.items() if k not in value})
        elif extra is not _MISSING:
            value["*"] = extra
        if pointer == "":
            # A posted value the schema does not declare is kept, so validation refuses it out loud.
            for key in self.data:
                if key.startswith(PREFIX + "/"):
                    top = _unescape(key[len(PREFIX) + 1 :].split("/", 1)[0])
                    if top not in seen and top not in value:
                        value[top] = self.get(key)
            return value
        if required or self.get(PRESENT + pointer) is not None:
            return value
        return _MISSING

    def map(self, pointer, name, schema, required, depth) -> Any:
        values_schema = self.w.map_values(schema)
        raw_len = self.get(LEN + pointer)
        if raw_len is None or not raw_len.isdigit():
            return {} if required else _MISSING
        out = {}
        for index in range(int(raw_len)):
            key = self.get(f"{MAPKEY}{pointer}/{index}") or ""
            got = self.value(f"{pointer}/{_escape(key)}", f"{name}/{index}", values_schema, True, depth + 1)
            out[key] = got if got is not _MISSING else ""
        return out

    def array(self, pointer, name, schema, required, depth) -> Any:
        tuple_schemas = self.w.tuple_items(schema)
        item_schema = self.w.resolve(schema.get("items")) if tuple_schemas is None else None
        if item_schema is not None and schema.get("uniqueItems") and self.w.options(item_schema) is not None:
            raws = self.data.getlist(name) if hasattr(self.data, "getlist") else self.data.get(name) or []
            raws = [raws] if isinstance(raws, str) else raws
            if not raws and self.get(LEN + pointer) is None:
                return [] if required else _MISSING
            options = self.w.options(item_schema)
            return [next((copy.deepcopy(o) for o, _ in options if _as_text(o) == r), r) for r in raws]
        if tuple_schemas is None and not isinstance(schema.get("items"), dict):
            return self.json(name)
        raw_len = self.get(LEN + pointer)
        if raw_len is None or not raw_len.isdigit():
            return self.json(name) if self.get(name) is not None else ([] if required else _MISSING)
        out = []
        for index in range(int(raw_len)):
            sub = (tuple_schemas[index] if index < len(tuple_schemas) else {}) if tuple_schemas else schema["items"]
            got = self.value(f"{pointer}/{index}", f"{name}/{index}", sub, True, depth + 1)
            if got is _MISSING:
                # A blank row is still a row: validation says what it needs rather than the form dropping it.
                resolved = self.w.resolve(sub)
                got = {} if self.w.kind(resolved) == "object" else ""
            out.append(got)
        return out


def parse_post(schema: dict, data, *, stored: dict | None = None, lock_immutable: bool = False) -> dict:
    """Turn submitted form data back into params JSON.

    Values are converted by their schema type; a value that does not convert is kept as the text
    typed, so that jsonschema reports the error on that field instead of losing the input. Empty
    optional fields are left out. A blank sensitive field keeps the stored value, and a locked field
    (``readOnly``, or ``x-immutable`` with ``lock_immutable``) keeps the stored value whatever is posted.
    """
    walker = _Walker(schema, lock_immutable=lock_immutable)
    value = _Parser(walker, data, stored or {}).value("", PREFIX, schema, True, 0)
    return value if isinstance(value, dict) else {}


def _to_number(raw: str, kind: str) -> Any:
    text = raw.strip()
    try:
        as_float = float(text)
    except ValueError:
        return raw
    if as_float != as_float or as_float in (float("inf"), float("-inf")):
        return raw
    if kind == "integer":
        if as_float.is_integer() and not any(c in text for c in ".eE"):
            return int(text)
        return int(as_float) if as_float.is_integer() else as_float
    if as_float.is_integer() and not any(c in text for c in ".eE"):
        return int(text)
    return as_float


# --- array and map row operations (htmx add/remove) -------------------------------------------------------


def _container(params: Any, pointer: str) -> tuple[Any, str] | None:
    parts = [_unescape(p) for p in pointer.split("/")[1:]]
    node = params
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return (node, parts[-1]) if parts else None


def _schema_at(walker: _Walker, schema: dict, pointer: str, params: Any) -> dict:
    """The resolved schema governing the value at ``pointer`` (conditions and variants as currently chosen)."""
    node = walker.resolve(schema)
    value = params
    for part in [_unescape(p) for p in pointer.split("/")[1:]]:
        node, _ = walker.nullable(node)
        found = walker.variants(node)
        if found and walker.options(node) is None:
            key, variants = found
            base = walker.variant_base(node, key)
            node = walker.resolve(_merge(base, variants[walker.active_variant(variants, base, value)]))
        if isinstance(value, dict) or walker.kind(node) == "object":
            if walker.map_values(node) is not None:
                node = walker.resolve(walker.map_values(node))
            else:
                node = walker.resolve((walker.effective_object(node, value).get("properties") or {}).get(part, {}))
            value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        else:
            tuple_schemas = walker.tuple_items(node)
            index = int(part) if part.isdigit() else 0
            sub = tuple_schemas[index] if tuple_schemas and index < len(tuple_schemas) else node.get("items")
            node = walker.resolve(sub)
            value = value[index] if isinstance(value, list) and index < len(value) else _MISSING
    return walker.nullable(node)[0]


def add_row(schema: dict, params: dict, pointer: str) -> dict:
    """``params`` with a new row at the end of the array (or map) at ``pointer``, filled from the item defaults."""
    params = copy.deepcopy(params)
    walker = _Walker(schema)
    target = _schema_at(walker, schema, pointer, params)
    found = _container(params, pointer)
    if found is None:
        return params
    parent, key = found
    if isinstance(parent, list):
        key = int(key) if key.isdigit() else len(parent)
        if key >= len(parent):
            return params
    current = parent.get(key) if isinstance(parent, dict) else parent[key]
    if walker.map_values(target) is not None:
        current = current if isinstance(current, dict) else {}
        fresh, n = "key", 1
        while fresh in current:
            n += 1
            fresh = f"key{n}"
        item = _defaults(walker, walker.map_values(target), 1)
        current[fresh] = "" if item is _MISSING else item
    else:
        current = current if isinstance(current, list) else []
        item = _defaults(walker, target.get("items") if isinstance(target.get("items"), dict) else {}, 1)
        if item is _MISSING:
            kind = walker.kind(walker.resolve(target.get("items") or {}))
            item = {} if kind == "object" else ""
        current.append(item)
    parent[key] = current
    return params


def remove_row(params: dict, pointer: str) -> dict:
    """``params`` without the array item (or map entry) at ``pointer``."""
    params = copy.deepcopy(params)
    found = _container(params, pointer)
    if found is not None:
        parent, key = found
        if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
            del parent[int(key)]
        elif isinstance(parent, dict):
            parent.pop(key, None)
    return params


__all__ = [
    "Choice",
    "FormField",
    "add_row",
    "all_fields",
    "build_fields",
    "find_field",
    "initial_values",
    "parse_post",
    "remove_row",
    "render_markdown",
    "unplaced_errors",
]
