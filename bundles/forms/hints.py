"""rjsf ui hints: which Slipway draws, which it accepts with a warning, and lint's reading of a ``ui`` tree.

Platform teams bring uiSchemas written for react-jsonschema-form. Every hint rjsf documents is
accepted: the ones Slipway has a control for are honoured by the form engine (:mod:`.build`); the
others are drawn as the standard control, and lint says so once, in words, as a *warning*. Only a
hint that cannot be read at all (``ui:order`` that is not a list, a field's ui that is not a
mapping, a param that does not exist) is an error. Slipway's own additions (``ui:group``) are listed
here too. The support table in ``docs/bundles.md`` follows these tables.
"""

from __future__ import annotations

from typing import Any

from ..schema import Resolver, pointer

# ui:widget values the engine draws (the widget it draws, by the value's type, is in build.py).
WIDGETS = {
    "text",
    "textarea",
    "password",
    "select",
    "radio",
    "range",
    "updown",
    "checkbox",
    "checkboxes",
    "hidden",
    "color",
    "date",
    "alt-date",
    "email",
    "uri",
    "url",
}
# Standard rjsf widgets Slipway draws another way: the warning says how.
WIDGETS_APPROXIMATED = {
    "datetime": "drawn as a text input taking an RFC 3339 date-time (a browser's local one would drop the zone)",
    "alt-datetime": "drawn as a text input taking an RFC 3339 date-time",
    "file": "drawn as a text input: Slipway does not upload files into params",
    "data-url": "drawn as a text input: Slipway does not upload files into params",
}

# ui:* keys honoured, with the type their value must have.
HONOURED: dict[str, type | tuple] = {
    "ui:order": list,
    "ui:widget": str,
    "ui:title": str,
    "ui:description": str,
    "ui:help": str,
    "ui:placeholder": str,
    "ui:readonly": bool,
    "ui:disabled": bool,
    "ui:autofocus": bool,
    "ui:enumNames": list,
    "ui:enumDisabled": list,
    "ui:options": dict,
    "ui:group": str,  # Slipway's own: a heading starting a group of fields
    "ui:rows": int,  # rjsf lets any ui:options key be written as ui:<key>
    "ui:addable": bool,
    "ui:removable": bool,
    "ui:orderable": bool,
    "ui:inline": bool,
}
# ui:* keys accepted with a warning: what Slipway does instead.
WARNED = {
    "ui:field": "custom rjsf field {value!r} is drawn as a standard control",
    "ui:classNames": "ui:classNames has no effect: Slipway draws every field with its own styles",
    "ui:style": "ui:style has no effect: Slipway draws every field with its own styles",
    "ui:emptyValue": "ui:emptyValue is not applied: a blank optional field is left out of the params",
    "ui:label": "ui:label has no effect: every input keeps its label (screen readers need it)",
    "ui:submitButtonOptions": "ui:submitButtonOptions has no effect: the page has its own buttons",
    "ui:rootFieldId": "ui:rootFieldId has no effect: Slipway names inputs by JSON pointer",
    "ui:globalOptions": "ui:globalOptions is not applied: set the hint on each field",
    "ui:enumOrder": "ui:enumOrder is not applied: options follow the schema's enum order",
    "ui:FieldTemplate": "custom rjsf templates are not used: Slipway draws its own",
    "ui:ArrayFieldTemplate": "custom rjsf templates are not used: Slipway draws its own",
    "ui:ObjectFieldTemplate": "custom rjsf templates are not used: Slipway draws its own",
}
# ui:options keys honoured; any other is accepted with a warning.
OPTIONS = {"rows", "addable", "removable", "orderable", "inline", "widget"}


def option(ui: dict, key: str, default: Any = None) -> Any:
    """An rjsf option, written in ``ui:options`` or as ``ui:<key>`` (the latter wins, as in rjsf)."""
    if f"ui:{key}" in ui:
        return ui[f"ui:{key}"]
    options = ui.get("ui:options")
    return options.get(key, default) if isinstance(options, dict) else default


def widget(ui: dict) -> str | None:
    found = ui.get("ui:widget") or option(ui, "widget")
    return found if isinstance(found, str) else None


def read_only_places(ui: Any, value: Any, parts: tuple = ()) -> list[tuple]:
    """The paths (in ``value``) of the values the ``ui`` makes read-only: ``ui:readonly`` or ``ui:disabled``.
    The server keeps them as they are (rjsf only greys the input out; a post could still change them)."""
    if not isinstance(ui, dict):
        return []
    if ui.get("ui:readonly") is True or ui.get("ui:disabled") is True:
        return [parts]
    found: list[tuple] = []
    for key, sub in ui.items():
        if key.startswith("ui:"):
            continue
        if key == "items" and isinstance(value, list):  # rjsf: the ui of every item, or one per tuple position
            for index, item in enumerate(value):
                item_ui = (sub[index] if index < len(sub) else {}) if isinstance(sub, list) else sub
                found += read_only_places(item_ui, item, (*parts, index))
        else:
            found += read_only_places(sub, value.get(key) if isinstance(value, dict) else None, (*parts, key))
    return found


def names_at(walker: Resolver, schema: dict) -> dict[str, dict]:
    """Every property that can appear at this level: declared, in a condition's branch (``if``/``then``,
    ``dependentSchemas``, draft-07 ``dependencies`` with their ``oneOf`` branches) or in a variant."""
    resolved = walker.resolve(schema)
    names = dict(resolved.get("properties") or {})
    for cond in resolved.get("_conditions") or []:
        for branch in (cond.get("then"), cond.get("else")):
            if isinstance(branch, dict):
                for name, sub in names_at(walker, branch).items():
                    names.setdefault(name, sub)
    found = walker.variants(resolved)
    if found:
        for variant in found[1]:
            for name, sub in names_at(walker, variant).items():
                names.setdefault(name, sub)
    return names


def _type_name(kind) -> str:
    return {list: "a list", str: "text", bool: "true or false", int: "a whole number", dict: "a mapping"}.get(kind, "?")


def ui_problems(walker: Resolver, ui: Any, schema: dict, path: str = "/ui") -> tuple[list[str], list[str]]:
    """(errors, warnings) for a ``ui`` tree against the params schema, each starting with its pointer."""
    if not isinstance(ui, dict):
        return [f"{path}: must be a mapping of ui hints and field names, not {type(ui).__name__}"], []
    errors: list[str] = []
    warnings: list[str] = []
    resolved = walker.nullable(walker.resolve(schema))[0]
    names = names_at(walker, resolved)
    for key, value in ui.items():
        here = path + pointer((key,))
        if key.startswith("ui:"):
            errors_here, warnings_here = _hint_problems(key, value, here)
            errors += errors_here
            warnings += warnings_here
            if key == "ui:order" and not errors_here:
                for index, entry in enumerate(value):
                    if entry != "*" and entry not in names:
                        errors.append(f"{here}/{index}: {entry!r} is not a param here")
        elif key in ("items", "additionalItems") and key not in names and _is_array(resolved):
            tuple_schemas = walker.tuple_items(resolved)
            if key == "items" and isinstance(value, list):
                for index, sub_ui in enumerate(value):
                    sub = tuple_schemas[index] if tuple_schemas and index < len(tuple_schemas) else {}
                    e, w = ui_problems(walker, sub_ui, sub if isinstance(sub, dict) else {}, f"{here}/{index}")
                    errors, warnings = errors + e, warnings + w
                continue
            sub = resolved.get(key) if key == "additionalItems" or tuple_schemas is None else None
            if key == "items" and tuple_schemas is not None:
                sub = resolved.get("additionalItems")  # rjsf: ui items of a tuple apply to every position
            e, w = ui_problems(walker, value, sub if isinstance(sub, dict) else {}, here)
            errors, warnings = errors + e, warnings + w
        elif key not in names:
            errors.append(f"{here}: ui for an unknown field {key!r} (no such param)")
        else:
            e, w = ui_problems(walker, value, names[key], here)
            errors, warnings = errors + e, warnings + w
    return errors, warnings


def _is_array(schema: dict) -> bool:
    return schema.get("type") == "array" or "items" in schema or "prefixItems" in schema


def _hint_problems(key: str, value: Any, here: str) -> tuple[list[str], list[str]]:
    if key in WARNED:
        return [], [f"{here}: " + WARNED[key].format(value=value)]
    if key not in HONOURED:
        return [], [f"{here}: {key} is not an rjsf hint Slipway knows; it has no effect"]
    expected = HONOURED[key]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        return [f"{here}: must be {_type_name(expected)}"], []
    if key in ("ui:order", "ui:enumNames") and not all(isinstance(v, str) for v in value):
        return [f"{here}: must be a list of text"], []
    if key == "ui:widget":
        return [], _widget_warnings(value, here)
    if key == "ui:options":
        warnings = []
        for name, sub in value.items():
            if name == "widget" and isinstance(sub, str):
                warnings += _widget_warnings(sub, f"{here}/widget")
            elif name not in OPTIONS:
                warnings.append(f"{here}/{name}: the rjsf option {name!r} has no effect in Slipway")
        return [], warnings
    return [], []


def _widget_warnings(value: str, here: str) -> list[str]:
    if value in WIDGETS:
        return []
    if value in WIDGETS_APPROXIMATED:
        return [f"{here}: the '{value}' widget is {WIDGETS_APPROXIMATED[value]}"]
    return [f"{here}: custom rjsf widget {value!r} is drawn as the standard control"]
