"""Which JSON Schema dialect a schema is written in: the one place that decides.

A schema's own ``$schema`` is honoured; without one, Draft 2020-12 applies. (Detecting draft-07
schemas that do not say so, by their ``definitions`` and ``dependencies``, belongs here too.)
"""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema import Draft4Validator, Draft6Validator, Draft7Validator, Draft202012Validator

DEFAULT = Draft202012Validator
# Dialects before 2019-09: boolean exclusiveMinimum/Maximum, array-form ``items``, ``dependencies``.
_LEGACY = (Draft4Validator, Draft6Validator, Draft7Validator)


def validator_class(schema: Any) -> type:
    """The jsonschema validator class for ``schema``."""
    if not isinstance(schema, dict):
        return DEFAULT
    return jsonschema.validators.validator_for(schema, default=DEFAULT)


def is_legacy(schema: Any) -> bool:
    """Whether ``schema`` is read with the rules of draft-07 and before."""
    return validator_class(schema) in _LEGACY
