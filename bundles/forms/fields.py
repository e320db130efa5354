"""The form's nodes: one :class:`FormField` per value, nested as the params are, and the helpers
that find fields and place errors. (The package docstring says how inputs are named.)"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

PREFIX = "param"
LEN, VARIANT, PRESENT, EXTRA, MAPKEY, JSONED = "_len", "_variant", "_present", "_extra", "_mapk", "_json"
DRAWN = "_drawn"  # a control that posts nothing in one of its states (an unticked box, no rows): it was drawn


def selector_name(pointer: str, level: int = 0) -> str:
    """The input naming the branch chosen of the ``oneOf``/``anyOf`` at ``pointer``. A branch that is itself a
    union (``level`` 1, 2...) has a selector of its own at the same pointer: ``_variant2/x``, ``_variant3/x``."""
    return f"{VARIANT}{level + 1 if level else ''}{pointer}"


# An option standing for a stored value the schema does not offer (any more): the value follows as JSON, so
# it comes back exactly as stored (7 stays 7, [true] stays [true]) for validation to refuse beside its field.
STALE = "json:"
RADIO_MAX = 4
JSON_NOTICE = "This field is edited as JSON: the form cannot draw it yet."


@dataclass
class Choice:
    value: str
    label: str
    selected: bool = False
    disabled: bool = False  # ui:enumDisabled (never the option the value holds)
    id: str = ""  # a radio's or checkbox's id: FormField.choice_items fills it


@dataclass
class FormField:
    """One node of the form. Scalars have a widget; ``object``, ``array``, ``map`` and ``variant`` nest.

    widget is one of: text, textarea, password, number, range, select, radio, checkbox, hidden,
    multiselect, checkboxes, const, json, object, array, map, variant.
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

    @property
    def focus_id(self) -> str:
        """The id of what a link to this field focuses: its control, a group's first option, a section."""
        if self.widget in ("radio", "checkboxes"):
            return self.choice_id(0) if self.choices else self.html_id + "-wrap"
        if self.widget == "variant":
            return self.attrs.get("selector_id", self.html_id + "-variant-wrap")
        if self.widget in ("object", "array", "map"):
            return self.html_id + "-wrap"
        return self.html_id

    @property
    def choice_items(self) -> list[Choice]:
        """The choices of a radio or checkbox group, each with its id."""
        return [replace(c, id=self.choice_id(i)) for i, c in enumerate(self.choices)]

    def choice_id(self, index: int) -> str:
        """A radio's or checkbox's id, from its value (not its position: focus finds it again after a redraw)."""
        value = self.choices[index].value
        return f"{self.html_id}--{re.sub(r'[^A-Za-z0-9_-]', lambda m: f'_{ord(m.group()):x}', value)}"

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


def error_summary(fields: list[FormField]) -> list[dict]:
    """Each field at fault, in form order, as the form's error summary links to it: its label (with its
    section's, when nested), its first message and the id of the control a link focuses."""
    out = []

    def visit(f: FormField, within: str) -> None:
        if f.errors and f.widget not in ("const", "hidden"):
            label = f"{f.label} ({within})" if within else f.label
            out.extend({"label": label, "message": m, "target": f.focus_id} for m in f.errors)
        for child in (*f.children, *f.rows):
            visit(child, f.label if f.widget != "variant" else within)

    for f in fields:
        visit(f, "")
    return out
