"""Rendering: a schema (what the environment's policy lets the form draw), ui hints and values in, a tree
of :class:`FormField` out."""

from __future__ import annotations

import json
from typing import Any

from django.utils.safestring import mark_safe
from jsonpointer import escape

from ..schema import MAX_DEPTH, MISSING, Resolver, as_text, combine, defaults, same, variant_title
from ..schema import options as _options
from . import hints
from .fields import (
    DRAWN,
    EXTRA,
    JSON_NOTICE,
    JSONED,
    LEN,
    MAPKEY,
    PREFIX,
    PRESENT,
    RADIO_MAX,
    STALE,
    Choice,
    FormField,
    render_markdown,
    selector_name,
)

_PYTHON_TYPES = {"string": str, "integer": (int, float), "number": (int, float), "boolean": bool, "object": dict}


def fits(kind: str | None, value: Any, nullable: bool = False) -> bool:
    """Whether the control drawn for ``kind`` can hold ``value`` as it is. A value it cannot hold (a stored value
    of another type, a legal non-object under untyped ``properties``) is drawn as JSON instead, so it is kept
    exactly and validation speaks beside the field: a control never turns it into something else."""
    if value is MISSING or (value is None and nullable):
        return True
    if kind == "array":
        return isinstance(value, list)
    if kind in ("integer", "number") and isinstance(value, str):
        return not _looks_numeric(value)  # what was typed, kept as text for validation to refuse; "5" would become 5
    if kind in _PYTHON_TYPES:
        return isinstance(value, _PYTHON_TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))
    return True


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def pin_discriminators(schema: dict, value: Any = MISSING) -> dict:
    """A chosen variant with its constant properties required: the discriminator follows from the choice. One a
    stored object lacks stays optional (drawn "not set"), so the form does not add it behind the developer's back."""
    consts = [n for n, sub in (schema.get("properties") or {}).items() if isinstance(sub, dict) and "const" in sub]
    lacking = [n for n in consts if isinstance(value, dict) and n not in value]
    required = [n for n in dict.fromkeys([*(schema.get("required") or []), *consts]) if n not in lacking]
    return {**schema, "required": required} if consts else schema


class _Builder:
    def __init__(self, resolver: Resolver, errors: dict, stored_secrets: set[str], lock_immutable: bool, posted):
        self.posted = posted
        self.w = resolver
        self.lock_immutable = lock_immutable
        self.errors = errors
        self.stored_secrets = stored_secrets

    def node(self, label_name, pointer, name, schema, ui, value, required, depth) -> FormField:
        ui = ui if isinstance(ui, dict) else {}
        schema = self.w.resolve(schema)
        schema, nullable = self.w.nullable(schema)
        f = FormField(
            pointer=pointer,
            name=name,
            label=str(ui.get("ui:title") or schema.get("title") or str(label_name).replace("_", " ").capitalize()),
            widget="text",
            required=required,
            help=render_markdown(
                "\n\n".join(
                    str(t) for t in (ui.get("ui:description") or schema.get("description"), ui.get("ui:help")) if t
                )
            ),
            unit=str(schema.get("x-unit", "")),
            errors=list(self.errors.get(pointer, [])),
            group=str(ui.get("ui:group") or ""),
            depth=depth,
        )
        if ui.get("ui:placeholder"):
            f.attrs["placeholder"] = ui["ui:placeholder"]
        if ui.get("ui:autofocus") is True:
            f.attrs["autofocus"] = True
        if schema.get("readOnly"):
            f.locked, f.locked_reason = True, "Read-only: set by the bundle."
        elif schema.get("x-immutable") and self.lock_immutable:
            f.locked, f.locked_reason = True, "Cannot be changed after the first successful apply."
        elif ui.get("ui:readonly") is True or ui.get("ui:disabled") is True:
            f.locked, f.locked_reason = True, "Read-only in this form."
        if schema.get("x-only-increase") is True and not f.locked:
            later = "a later choice" if isinstance(schema.get("enum"), list) else "a larger value"
            f.help = mark_safe(f'{f.help}<p class="only-increase">Once applied, it can only move to {later}.</p>')

        if depth > MAX_DEPTH or schema.get("_unresolved"):
            return self.json(f, value)
        kind = self.w.kind(schema)
        options = _options(schema)
        if options is None and kind != "const" and not schema.get("x-sensitive") and not fits(kind, value, nullable):
            return self.json(f, value)
        if options is not None and value is None and not nullable and all(o is not None for o, _ in options):
            return self.json(f, value)  # a null no option stands for: kept, for validation to refuse
        if hints.widget(ui) == "hidden" and kind in ("string", "integer", "number", "boolean") and not f.errors:
            f.widget, f.value = "hidden", as_text(value)
            return f
        if options is not None:
            return self.choice(f, schema, ui, options, value)
        if kind == "const":
            const = schema["const"]
            if f.required and not f.errors and (value is MISSING or same(value, const)):
                # A variant's discriminator: it follows from the variant chosen. The stored form is kept (-2 stays -2).
                f.widget, f.value = "const", as_text(const if value is MISSING else value)
                return f
            # Optional, or holding a value it does not allow: a choice, so "not set" and the stored value can be seen.
            return self.choice(f, schema, ui, [(const, as_text(const))], value)
        found = self.w.variants(schema)
        if found and kind in (None, "object"):
            return self.variant(f, schema, ui, found, value, depth)
        if kind == "boolean":
            if self.w.tri_state(schema, nullable, required):
                # Yes / No / Not set: an untouched form must not store false where "not set" was meant.
                return self.choice(f, schema, ui, [(True, "Yes"), (False, "No")], value, blank="Not set")
            f.widget = "checkbox"
            f.checked = value is True if value is not MISSING else schema.get("default") is True
            f.hidden.append((DRAWN + f.path, "1"))
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
        f.value = json.dumps(value, indent=2) if value is not MISSING else ""
        f.notice = JSON_NOTICE
        f.hidden.append((JSONED + f.path, "1"))  # read back as JSON, whatever the schema's type says
        return f

    def choice(self, f, schema, ui, options, value, blank="(not set)") -> FormField:
        names = ui.get("ui:enumNames")
        if isinstance(names, list) and len(names) == len(options):
            options = [(v, str(name)) for (v, _), name in zip(options, names, strict=True)]
        options = [(v, label) for v, label in options if v is not None]  # the blank choice stands for null
        chosen = [v for v, _ in options if value is not MISSING and same(v, value)]
        widget = hints.widget(ui)
        f.widget = widget if widget in ("select", "radio") else ("radio" if len(options) <= RADIO_MAX else "select")
        if not f.required or not chosen:
            f.choices.append(Choice("", "— choose —" if f.required else blank, not chosen))
        if value is not MISSING and value is not None and not chosen:
            # A stored value the schema no longer offers (a bundle upgrade, a policy) is shown and kept as it is,
            # so validation refuses it beside the field, instead of the form dropping it silently.
            f.choices.append(Choice(STALE + json.dumps(value), f"{as_text(value)} (not allowed any more)", True))
            f.choices[0].selected = False
        disabled = ui.get("ui:enumDisabled") if isinstance(ui.get("ui:enumDisabled"), list) else []
        for v, label in options:
            selected = bool(chosen) and same(v, chosen[0])  # JSON equality: a stored 1.0 selects the option 1
            off = not selected and any(same(v, d) for d in disabled)
            # The selected option posts the value as stored: 1.0 stays 1.0 where the option is written 1.
            f.choices.append(Choice(as_text(value if selected else v), label, selected, off))
        return f

    def number(self, f, schema, ui, kind, value) -> FormField:
        f.widget = "number"
        f.value = as_text(value)
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if isinstance(schema.get(key), (int, float)) and not isinstance(schema.get(key), bool):
                f.attrs[attr] = schema[key]
        for key, attr in (("exclusiveMinimum", "gt"), ("exclusiveMaximum", "lt")):
            if isinstance(schema.get(key), (int, float)) and not isinstance(schema.get(key), bool):
                f.attrs[attr] = schema[key]
        f.attrs["step"] = schema.get("multipleOf") or (1 if kind == "integer" else "any")
        # Drawn as a text input: a browser's number input posts "" for what is not a number, and the form would
        # read a typo as "not set". The server reads what was typed and says beside the field when it is wrong.
        # A numeric keypad only where the value cannot be negative (phones' numeric keypads have no minus sign).
        lowest = next((schema[k] for k in ("minimum", "exclusiveMinimum") if k in schema), None)
        if isinstance(lowest, (int, float)) and not isinstance(lowest, bool) and lowest >= 0:
            f.attrs["inputmode"] = "numeric" if kind == "integer" and not schema.get("multipleOf") else "decimal"
        if hints.widget(ui) == "range" and "min" in f.attrs and "max" in f.attrs:
            f.widget = "range"
            if value is MISSING:
                f.notice = "Not set: move the slider to choose a value."
        return f

    def string(self, f, schema, ui, value) -> FormField:
        f.value = as_text(value)
        widget = hints.widget(ui)
        if schema.get("x-sensitive"):
            f.widget, f.value, f.sensitive = "password", "", True
            f.has_stored_secret = f.pointer in self.stored_secrets
        elif widget == "textarea" or schema.get("format") == "textarea" or "\n" in f.value:
            f.widget = "textarea"  # a single-line input would strip the line breaks
            rows = hints.option(ui, "rows")
            if isinstance(rows, int) and not isinstance(rows, bool) and 1 <= rows <= 60:
                f.attrs["rows"] = rows
        elif widget == "password":
            f.widget = "password"
        for key, attr in (("pattern", "pattern"), ("maxLength", "maxlength"), ("minLength", "minlength")):
            if key in schema:
                f.attrs[attr] = schema[key]
        fmt = schema.get("format")
        if f.widget == "text":
            by_widget = {"date": "date", "alt-date": "date", "email": "email", "uri": "url", "url": "url"}
            by_format = {"email": "email", "uri": "url", "date": "date"}
            if widget in by_widget or fmt in by_format:
                f.attrs["type"] = by_widget.get(widget) or by_format[fmt]
            elif widget == "color" and (f.value or f.required):
                # A colour input always posts a colour (#000000 when empty): only drawn when one is set.
                f.attrs["type"] = "color"
            elif widget == "color":
                f.attrs.setdefault("placeholder", "#rrggbb")
            elif widget in ("datetime", "alt-datetime") or fmt == "date-time":
                f.attrs.setdefault("placeholder", "2026-01-31T09:30:00Z")
        return f

    def object(self, f, schema, ui, value, depth) -> FormField:
        f.widget = "object"
        current = value if isinstance(value, dict) else {}
        if f.pointer and not f.required:
            # An optional section is switched on explicitly: absent and {} are different params.
            f.attrs["toggle_name"] = PRESENT + f.pointer
            f.attrs["toggle_id"] = f.html_id + "-present"
            f.hidden.append((DRAWN + f.path, "1"))
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
            child_value = current.get(prop, MISSING) if isinstance(value, dict) else MISSING
            child = self.node(
                prop,
                f"{f.pointer}/{escape(prop)}",
                f"{f.name}/{escape(prop)}",
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
        if self.w.kind(values_schema) not in ("string", "integer", "number", "boolean") and not _options(values_schema):
            return self.json(f, value)
        f.widget = "map"
        items = list(value.items()) if isinstance(value, dict) else []
        f.hidden.append((LEN + f.pointer, str(len(items))) if isinstance(value, dict) else (DRAWN + f.path, "1"))
        for index, (key, item) in enumerate(items):
            row = self.node(
                key, f"{f.pointer}/{escape(key)}", f"{f.name}/{index}", values_schema, {}, item, True, depth + 1
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
            options = _options(item_schema)
            if options is not None and any(not any(same(v, o) for o, _ in options) for v in items):
                return self.json(f, value)  # an item no option stands for: kept, for validation to refuse
            if options is not None:
                f.widget = "checkboxes" if hints.widget(ui) == "checkboxes" else "multiselect"
                if hints.option(ui, "inline") is True:
                    f.attrs["inline"] = True
                chosen = [as_text(v) for v in items]
                # Selected options first, in the value's order: a browser posts them in document order.
                ordered = sorted(options, key=lambda o: chosen.index(as_text(o[0])) if as_text(o[0]) in chosen else 1e9)
                f.choices = [Choice(as_text(v), label, as_text(v) in chosen) for v, label in ordered]
                f.hidden.append(
                    (LEN + f.pointer, str(len(items))) if isinstance(value, list) else (DRAWN + f.path, "1")
                )
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
        else:
            f.hidden.append((DRAWN + f.path, "1"))
        for index in range(count):
            sub = tuple_schemas[index] if tuple_schemas is not None else schema["items"]
            row_ui = item_ui
            if isinstance(ui.get("items"), list):  # rjsf: one ui per tuple position
                row_ui = ui["items"][index] if index < len(ui["items"]) else {}
            row = self.node(
                f"{f.label} item {index + 1}",
                f"{f.pointer}/{index}",
                f"{f.name}/{index}",
                sub,
                row_ui,
                items[index] if index < len(items) else MISSING,
                True,
                depth + 1,
            )
            titled = tuple_schemas is not None and (self.w.resolve(sub).get("title") or row_ui.get("ui:title"))
            if row.widget not in ("object", "array", "variant", "map") and not titled:
                row.label = f"{f.label} item {index + 1}"
            f.rows.append(row)
        if tuple_schemas is None and not f.locked:
            f.can_add = count < schema.get("maxItems", 10**9) and hints.option(ui, "addable", True) is not False
            f.can_remove = count > schema.get("minItems", 0) and hints.option(ui, "removable", True) is not False
        return f

    def variant(self, f, schema, ui, found, value, depth) -> FormField:
        key, variants = found
        base = self.w.variant_base(schema, key)
        level = schema.get("_nest", 0)
        f.widget = "variant"
        f.refresh = True
        f.attrs["selector_name"] = selector_name(f.pointer, level)
        f.attrs["selector_id"] = f.html_id + "-variant" + (str(level + 1) if level else "")
        picked = self.posted.get(f.attrs["selector_name"]) if self.posted is not None else None
        if value is MISSING:
            chosen = -1
        elif isinstance(picked, str) and picked.isdigit() and int(picked) < len(variants):
            chosen = int(picked)  # the branch just chosen, though the value has nothing of it yet
        else:
            chosen = self.w.active_variant(variants, base, value)
        f.choices.append(Choice("", "— choose —" if f.required else "(not set)", chosen < 0))
        f.choices += [Choice(str(i), variant_title(v, i), i == chosen) for i, v in enumerate(variants)]
        if chosen >= 0:
            merged = {**pin_discriminators(combine(base, variants[chosen]), value), "_nest": level + 1}
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
    posted=None,
) -> list[FormField]:
    """The fields for a params object, in ``ui:order`` order, filled from ``values`` (or the defaults).

    ``stored_secrets`` are pointers (or top-level names) of sensitive values already stored: their
    field says so and a blank submission keeps them. ``lock_immutable`` makes ``x-immutable``
    fields read-only (after the deployment's first successful apply).
    """
    resolver = Resolver(schema)
    secrets = {s if s.startswith("/") else "/" + escape(s) for s in (stored_secrets or set())}
    builder = _Builder(resolver, errors or {}, secrets, lock_immutable, posted)
    start = values if values is not None else defaults(resolver, schema)
    root = builder.node("params", "", PREFIX, schema, ui or {}, start, True, 0)
    return root.children if root.widget == "object" else [root]
