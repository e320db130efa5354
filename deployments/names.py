"""The one rule for a deployment's name: it becomes part of host names, so it must be a DNS label.

The form, the API (and so the CLI) and ``deployment_create`` all check it here, with the words of
the help text."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

MAX_LENGTH = 60
NAME_HELP = (
    "Lowercase letters, digits and dashes, starting with a letter; unique within the environment, e.g. orders-db."
)
_NAME = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")


def name_error(value: str) -> str | None:
    """The sentence saying what is wrong with ``value`` as a deployment name, or None when it is fine."""
    if not value:
        return "Give the deployment a name, e.g. orders-db."
    if len(value) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters (this name has {len(value)})."
    if _NAME.fullmatch(value):
        return None
    if value.lower() != value and _NAME.fullmatch(value.lower()):
        return f"Use lowercase letters, digits and dashes only: {value.lower()!r} would do."
    if not value[0].isascii() or not value[0].isalpha():
        return "Start with a lowercase letter, then use lowercase letters, digits and dashes, e.g. orders-db."
    if value.endswith("-"):
        return "End with a letter or a digit, not a dash."
    suggestion = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    hint = f": {suggestion!r} would do" if suggestion and _NAME.fullmatch(suggestion) else ", e.g. orders-db"
    return f"Use lowercase letters, digits and dashes only{hint}."


def validate_name(value: str) -> None:
    """A Django/DRF-style validator for the same rule."""
    message = name_error(value)
    if message:
        raise ValidationError(message, code="invalid_name")
