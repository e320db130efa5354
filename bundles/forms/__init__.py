"""The schema-to-form engine: JSON Schema (+ ui schema) in, a tree of form fields out; a POST back to JSON.

Every form that edits params goes through this package: new deployment, edit, presets and the htmx
fragments (live validation, variant switch, conditional fields, array rows).

Names. A value's input is named ``param`` + its JSON pointer (``param/storage/gb``,
``param/rules/1/port``), so jsonschema's errors, reported by pointer, land beside their field.
Structure the browser must send back but that holds no value travels in hidden inputs under other
prefixes, which can never collide with a property name: ``_len/rules`` (rows in an array),
``_variant/auth`` (the chosen ``oneOf``/``anyOf`` branch, blank for "not set"), ``_present/storage``
(an optional object that exists even if empty), ``_extra/x`` (undeclared keys, as JSON) and
``_mapk/tags/0`` (a map's keys) and ``_json/x`` (a field drawn as JSON: read back as JSON, whatever its
schema's type). An option whose value starts with ``json:`` stands for a stored value the schema does not
offer; the JSON after it is the value, exactly.

Rendering (:mod:`.build`) and parsing (:mod:`.parse`) read the schema through the same
:class:`bundles.schema.Resolver`, so what is drawn is what is read.
Conditionals (``if``/``then``/``else``, ``dependentSchemas``, ``dependentRequired`` and draft-07
``dependencies``) are evaluated against the current values: a field appears when its condition holds.
What the engine cannot draw is edited as JSON with a visible notice; nothing is dropped silently.
"""

from ..schema import initial_values
from .build import build_fields
from .fields import Choice, FormField, all_fields, error_summary, find_field, render_markdown, unplaced_errors
from .hints import read_only_places
from .parse import parse_post
from .rows import add_row, remove_row

__all__ = [
    "Choice",
    "FormField",
    "add_row",
    "all_fields",
    "build_fields",
    "error_summary",
    "find_field",
    "initial_values",
    "parse_post",
    "read_only_places",
    "remove_row",
    "render_markdown",
    "unplaced_errors",
]
