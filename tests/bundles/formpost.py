"""What a browser would submit for a rendered params form: the real template, parsed like a browser does."""

from __future__ import annotations

from html.parser import HTMLParser
from types import SimpleNamespace

from django.http import QueryDict
from django.template.loader import render_to_string

from bundles.forms import build_fields, unplaced_errors

VERSION = SimpleNamespace(bundle=SimpleNamespace(name="corpus"), version="1.0.0")


def render_params(schema, ui=None, values=None, errors=None, **kwargs) -> str:
    fields = build_fields(schema, ui or {}, values, errors, **kwargs)
    return render_to_string(
        "bundles/form.html#params",
        {"fields": fields, "root_errors": unplaced_errors(fields, errors or {}), "version": VERSION},
    )


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
