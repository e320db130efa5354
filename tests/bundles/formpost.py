"""What a browser would submit for a rendered params form: the real template, parsed like a browser does."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

from django.http import QueryDict
from django.template.loader import render_to_string

from bundles.forms import all_fields, build_fields, parse_post, unplaced_errors

VERSION = SimpleNamespace(bundle=SimpleNamespace(name="corpus"), version="1.0.0")


def render_params(schema, ui=None, values=None, errors=None, **kwargs) -> str:
    fields = build_fields(schema, ui or {}, values, errors, **kwargs)
    return render_to_string(
        "bundles/form.html#params",
        {"fields": fields, "root_errors": unplaced_errors(fields, errors or {}), "version": VERSION},
    )


def _number_input_value(text: str) -> str:
    """A browser's <input type=number> submits "" for anything that is not a valid floating-point number."""
    return text if re.fullmatch(r"-?(\d+(\.\d+)?|\.\d+)([eE][-+]?\d+)?", text) else ""


class _FormReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pairs: list[tuple[str, str]] = []
        self.select: dict | None = None
        self.option: dict | None = None
        self.textarea: dict | None = None
        self.inputs: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            self.inputs.append(a)
            if "disabled" in a or not a.get("name"):
                return
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            elif kind == "number":
                self.pairs.append((a["name"], _number_input_value(a.get("value", ""))))
            elif kind not in ("button", "submit"):
                self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.inputs.append(a)
            self.select = {"attrs": a, "options": []}
        elif tag == "option" and self.select is not None:
            self.option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self.select["options"].append(self.option)
        elif tag == "textarea":
            self.inputs.append(a)
            self.textarea = {"attrs": a, "text": ""}

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea["text"] += data
        elif self.option is not None:
            self.option["text"] += data

    def handle_endtag(self, tag):
        if tag == "select" and self.select is not None:
            a, options = self.select["attrs"], self.select["options"]
            if "disabled" not in a and a.get("name"):
                chosen = [o for o in options if o["selected"]]
                if not chosen and "multiple" not in a and options:
                    chosen = options[:1]  # a single select always submits one option
                for o in chosen:
                    self.pairs.append((a["name"], o["value"] if o["value"] is not None else o["text"]))
            self.select = None
        elif tag == "option":
            self.option = None
        elif tag == "textarea" and self.textarea is not None:
            a, text = self.textarea["attrs"], self.textarea["text"]
            if text.startswith("\n"):
                text = text[1:]  # the HTML parser drops one newline right after <textarea>
            if "disabled" not in a and a.get("name"):
                self.pairs.append((a["name"], text.replace("\r\n", "\n").replace("\n", "\r\n")))
            self.textarea = None


def read_form(html: str) -> tuple[QueryDict, list[dict]]:
    reader = _FormReader()
    reader.feed(html)
    data = QueryDict(mutable=True)
    for name, value in reader.pairs:
        data.appendlist(name, value)
    return data, reader.inputs


def browser_post(schema, ui=None, values=None, **kwargs) -> QueryDict:
    """What a browser submits for this form, left as rendered."""
    return read_form(render_params(schema, ui, values, **kwargs))[0]


def expected_after_round_trip(schema, ui, params):
    """The params a browser posts back, by the form's documented conventions.

    A checkbox is always on or off, so an absent boolean comes back as what its box showed (its
    default, else off), and a required section is always there; a blank text is left out rather than
    posted as "" (a required one is then reported missing), and so is an optional null where the field
    may be null. A value edited as JSON, or a stored choice the schema does not offer, comes back as it
    is ("" and null included). A variant selector posts only the branch chosen: a stored value that is
    not an object (a wrong type, "" or null) is drawn under it as JSON and comes back as it is. A
    sensitive or locked field keeps its stored value, even "".
    """
    expected = json.loads(json.dumps(params))
    for f in all_fields(build_fields(schema, ui, params)):
        parts = [p.replace("~1", "/").replace("~0", "~") for p in f.pointer.split("/")[1:]]
        parent = expected
        for part in parts[:-1]:
            if isinstance(parent, list) and part.isdigit() and int(part) < len(parent):
                parent = parent[int(part)]
            else:
                parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or not parts:
            continue
        key = parts[-1]
        if f.widget == "object" and f.required and key not in parent:
            parent[key] = {}  # a required section is always drawn, so always there
        if f.widget == "checkbox" and key not in parent:
            parent[key] = f.checked
        if (
            key in parent
            and f.widget != "checkbox"
            and not f.key_name  # a map's row is kept even blank: the key is what was typed
            and not (f.sensitive or f.locked)
            and f.widget != "json"  # a value edited as JSON comes back as it is, "" and null included
            and f.widget != "variant"  # a selector holds no value: the field drawn under it, at its pointer, does
            and not any(c.selected and c.value.startswith("json:") for c in f.choices)  # a stored value not offered
            and (parent[key] == "" or (parent[key] is None and not f.required))
        ):
            del parent[key]
    return expected


def round_trip(schema, ui, params):
    """Render, post back as a browser would, parse. Stored values stand in for sensitive fields, as on the edit form."""
    return parse_post(schema, browser_post(schema, ui, params), stored=params, ui=ui)


def browser_safe(value) -> bool:
    """HTML forms cannot carry control characters, lone surrogates or a carriage return; the rest must survive."""
    if isinstance(value, str):
        return not any((ord(c) < 32 and c not in "\n\t") or 0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return all(browser_safe(k) and browser_safe(v) for k, v in value.items())
    if isinstance(value, list):
        return all(browser_safe(v) and v is not None and v != "" for v in value)
    return True
