"""Everything Slipway knows about JSON Schema, in one package.

- :mod:`.dialect`: which draft a schema is written in (``$schema``, else its keywords, else 2020-12).
- :mod:`.refs`: local ``$ref`` resolution (remote references are never fetched) and JSON pointers.
- :mod:`.validate`: compiled validators and errors keyed by JSON pointer; checks of a schema itself.
- :mod:`.walk`: the one walker: every subschema with its pointer and kind; the concrete pointers of
  the values a predicate selects in an instance (sensitive, immutable and only-increase values).
- :mod:`.resolve`: a schema read the way a form draws it (``allOf`` folded, conditions, variants).
- :mod:`.values`: defaults, presets and the deep merge.
- :mod:`.labels`: titles, enum labels, human values. :mod:`.describe`: inputs in words, for the API.

Consumers (the form engine, the loader's lint, the display, secrets, policy, the estate
autocomplete, the API for the CLI) import from here.
"""

from .describe import describe_inputs
from .dialect import dialect_problems, is_legacy, validator_class
from .labels import MISSING, as_text, human_value, option_label, options, same, title, variant_title
from .refs import REGISTRY, pointer, remote_refs, resolve_ref
from .resolve import MAX_DEPTH, Resolver, combine
from .validate import check_overlay_schema, check_params_schema, compile_validator, param_errors, regex_warnings
from .values import deep_merge, defaults, initial_values, starting_params
from .walk import (
    ANY,
    Match,
    Node,
    immutable_values,
    is_immutable,
    is_only_increase,
    is_sensitive,
    matching_values,
    only_increase_values,
    read_only_values,
    sensitive_values,
    uncopyable_values,
    walk,
)

__all__ = [
    "ANY",
    "MAX_DEPTH",
    "MISSING",
    "REGISTRY",
    "Match",
    "Node",
    "Resolver",
    "as_text",
    "check_overlay_schema",
    "check_params_schema",
    "combine",
    "compile_validator",
    "deep_merge",
    "defaults",
    "describe_inputs",
    "dialect_problems",
    "human_value",
    "immutable_values",
    "initial_values",
    "is_immutable",
    "is_legacy",
    "is_only_increase",
    "is_sensitive",
    "matching_values",
    "only_increase_values",
    "option_label",
    "options",
    "param_errors",
    "pointer",
    "read_only_values",
    "regex_warnings",
    "remote_refs",
    "resolve_ref",
    "same",
    "sensitive_values",
    "starting_params",
    "title",
    "uncopyable_values",
    "validator_class",
    "variant_title",
    "walk",
]
