"""The schema-to-form engine: JSON Schema (+ ui schema) in, form fields out; a POST back to JSON.

Every form that edits params goes through this module: new deployment, edit, presets.
Field names are ``param`` + the JSON pointer of the value (``param/size``), so server-side
errors, which jsonschema reports by pointer, land beside their field.

Constructs this version renders: an object of scalar properties; strings (text, textarea,
password for ``x-sensitive``); enums as selects with labels from ``x-enum-titles`` or
``oneOf``/``anyOf`` of ``const`` + ``title``; integers and numbers with bounds, ``multipleOf``
and ``x-unit``; booleans; defaults. Anything else is shown as a JSON text area with a notice,
so it degrades visibly and never silently drops a value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

PREFIX = "param"
_MISSING = object()


@dataclass
class Choice:
    value: str
    label: str
    selected: bool = False


@dataclass
class FormField:
    pointer: str
    name: str
    label: str
    widget: str  # text, textarea, password, number, select, checkbox, json
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

    @property
    def html_id(self) -> str:
        return "f" + self.pointer.replace("/", "-").replace("~", "_")

    @property
    def error_id(self) -> str:
        return self.html_id + "-errors"

    @property
    def help_id(self) -> str:
        return self.html_id + "-help"

    @property
    def described_by(self) -> str:
        ids = []
        if self.help or self.unit:
            ids.append(self.help_id)
        if self.errors:
            ids.append(self.error_id)
        return " ".join(ids)


def render_markdown(text: str) -> SafeString:
    """Markdown to HTML, sanitised: bundle text is trusted to ops, never to run scripts."""
    if not text:
        return mark_safe("")
    html = markdown.markdown(text, extensions=["extra"])
    return mark_safe(nh3.clean(html, link_rel="noopener noreferrer"))


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _labelled_options(schema: dict) -> list[tuple[Any, str]] | None:
    """Enum values with their labels, or None when the property is not an enum."""
    if "enum" in schema:
        titles = schema.get("x-enum-titles") or {}
        return [
            (v, str(titles.get(str(v), titles.get(v, v) if isinstance(titles, dict) else v))) for v in schema["enum"]
        ]
    variants = schema.get("oneOf") or schema.get("anyOf")
    if variants and all(isinstance(v, dict) and "const" in v for v in variants):
        return [(v["const"], str(v.get("title", v["const"]))) for v in variants]
    return None


def _type_of(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    if kind is None and "const" in schema:
        return type(schema["const"]).__name__
    return kind


def _as_text(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def build_fields(
    schema: dict,
    ui: dict | None = None,
    values: dict | None = None,
    errors: dict[str, list[str]] | None = None,
    *,
    stored_secrets: set[str] | None = None,
) -> list[FormField]:
    """The fields for a params object, in ``ui:order`` order, filled from ``values`` (or defaults)."""
    ui = ui or {}
    errors = errors or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    order = list(ui.get("ui:order") or [])
    names = [n for n in order if n in properties] + [n for n in properties if n not in order]
    fields = []
    for name in names:
        sub = properties[name] if isinstance(properties[name], dict) else {}
        sub_ui = ui.get(name) or {}
        pointer = "/" + _escape(name)
        value = values.get(name, _MISSING) if values is not None else sub.get("default", _MISSING)
        fields.append(
            _field(
                name, pointer, sub, sub_ui, value, name in required, errors.get(pointer, []), stored_secrets or set()
            )
        )
    return fields


def _field(name, pointer, schema, ui, value, required, errs, stored_secrets) -> FormField:
    kind = _type_of(schema)
    label = ui.get("ui:title") or schema.get("title") or name.replace("_", " ").capitalize()
    help_text = ui.get("ui:help") or schema.get("description") or ""
    f = FormField(
        pointer=pointer,
        name=PREFIX + pointer,
        label=label,
        widget="text",
        required=required,
        help=render_markdown(help_text),
        unit=str(schema.get("x-unit", "")),
        errors=list(errs),
    )
    if ui.get("ui:placeholder"):
        f.attrs["placeholder"] = ui["ui:placeholder"]
    if schema.get("readOnly"):
        f.attrs["readonly"] = True
    options = _labelled_options(schema)
    if options is not None:
        f.widget = "select"
        current = _as_text(value)
        if not required or value is _MISSING:
            f.choices.append(Choice("", "— choose —" if required else "(not set)", current == ""))
        f.choices += [Choice(_as_text(v), lbl, _as_text(v) == current) for v, lbl in options]
        f.attrs["data-type"] = kind or "string"
        return f
    if kind == "boolean":
        f.widget = "checkbox"
        f.checked = value is True
        return f
    if kind in ("integer", "number"):
        f.widget = "number"
        f.value = _as_text(value)
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if key in schema:
                f.attrs[attr] = schema[key]
        step = schema.get("multipleOf") or (1 if kind == "integer" else "any")
        f.attrs["step"] = step
        return f
    if kind == "string":
        f.value = "" if schema.get("x-sensitive") else _as_text(value)
        if schema.get("x-sensitive"):
            f.widget = "password"
            f.sensitive = True
            f.has_stored_secret = name in stored_secrets
        elif ui.get("ui:widget") == "textarea" or schema.get("format") == "textarea":
            f.widget = "textarea"
        if "pattern" in schema:
            f.attrs["pattern"] = schema["pattern"]
        if "maxLength" in schema:
            f.attrs["maxlength"] = schema["maxLength"]
        if "minLength" in schema:
            f.attrs["minlength"] = schema["minLength"]
        fmt = schema.get("format")
        if fmt in ("email", "uri", "date"):
            f.attrs["type"] = {"email": "email", "uri": "url", "date": "date"}[fmt]
        return f
    # Not supported by this version of the engine: edit as JSON, and say so.
    f.widget = "json"
    f.value = json.dumps(value, indent=2) if value is not _MISSING else ""
    f.notice = "This field is edited as JSON: the form cannot draw it yet."
    return f


def unplaced_errors(fields: list[FormField], errors: dict[str, list[str]]) -> list[str]:
    """Errors with no field to stand beside (the object itself, undeclared keys), for the top of the form."""
    placed = {f.pointer for f in fields}
    return [
        f"{pointer}: {message}" if pointer else message
        for pointer, messages in errors.items()
        if pointer not in placed
        for message in messages
    ]


def initial_values(schema: dict, preset: dict | None = None) -> dict:
    """What a new form starts with: the schema's defaults, overlaid by a preset's params."""
    values = {
        name: sub["default"]
        for name, sub in (schema.get("properties") or {}).items()
        if isinstance(sub, dict) and "default" in sub
    }
    if preset:
        values.update(preset.get("params") or {})
    return values


def parse_post(schema: dict, data, *, stored: dict | None = None) -> dict:
    """Turn submitted form data back into params JSON.

    Values are converted by their schema type; a value that does not convert is kept as the text
    typed, so that jsonschema reports the error on that field instead of losing the input. Empty
    optional fields are left out. A blank sensitive field keeps the stored value.
    """
    params: dict[str, Any] = {}
    stored = stored or {}
    declared = schema.get("properties") or {}
    # A posted field the schema does not declare is kept, so validation refuses it out loud
    # rather than the form dropping it silently.
    for key in data:
        if key.startswith(PREFIX + "/"):
            name = key[len(PREFIX) + 1 :].split("/", 1)[0].replace("~1", "/").replace("~0", "~")
            if name not in declared:
                params[name] = data.get(key)
    for name, sub in declared.items():
        sub = sub if isinstance(sub, dict) else {}
        key = PREFIX + "/" + _escape(name)
        kind = _type_of(sub)
        options = _labelled_options(sub)
        if kind == "boolean" and options is None:
            params[name] = data.get(key) in ("on", "true", "1")
            continue
        raw = data.get(key)
        if raw is None or raw == "":
            if sub.get("x-sensitive") and name in stored:
                params[name] = stored[name]
            continue
        if options is not None:
            params[name] = _match_option(raw, [v for v, _ in options])
        elif kind in ("integer", "number"):
            params[name] = _to_number(raw, kind)
        elif kind == "string":
            params[name] = raw
        else:
            try:
                params[name] = json.loads(raw)
            except ValueError:
                params[name] = raw
    return params


def _match_option(raw: str, values: list[Any]) -> Any:
    for value in values:
        if _as_text(value) == raw:
            return value
    return raw


def _to_number(raw: str, kind: str) -> Any:
    text = raw.strip()
    try:
        if kind == "integer":
            as_float = float(text)
            return int(as_float) if as_float.is_integer() else as_float
        as_float = float(text)
        if as_float.is_integer() and not any(c in text for c in ".eE"):
            return int(text)
        return as_float
    except ValueError:
        return raw
