"""Request bodies read as the OpenAPI schema describes them.

DRF is lenient with JSON types: a string field takes ``0`` (as ``"0"``), an integer field ``"5"`` and
``5.0``, a boolean ``"yes"`` and ``1``, a related object's integer id ``"3"``. The schema the API publishes
says ``string``, ``integer``, ``boolean``, and a client that sends something else has a bug it should hear
about, not a guess at what it meant (schemathesis' ``negative_data_rejection`` check holds the API to it).
:class:`RequestSerializer` checks every value's JSON type against its field before the field reads it, and
refuses a mismatch with a 400 naming the field by JSON pointer. Every serializer that reads a request body
derives from it.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers

_INTEGER_KEYS = (models.AutoField, models.IntegerField)


def _expected(field: serializers.Field) -> tuple[tuple[type, ...], str] | None:
    """The Python types (as json.loads makes them) the schema allows for ``field``, and how to say so."""
    if isinstance(field, serializers.BooleanField):
        return (bool,), "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return (int,), "Must be a whole number."
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return (int, float), "Must be a number."
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        queryset = field.get_queryset()
        if queryset is not None and isinstance(queryset.model._meta.pk, _INTEGER_KEYS):
            return (int,), "Must be a whole number (an id)."
        return (str,), "Must be a string."
    if isinstance(
        field,
        (
            serializers.CharField,
            serializers.UUIDField,
            serializers.DateTimeField,
            serializers.DateField,
            serializers.SlugRelatedField,
        ),
    ):
        return (str,), "Must be a string."
    if isinstance(field, serializers.ChoiceField) and all(isinstance(key, str) for key in field.choices):
        return (str,), "Must be a string."
    if isinstance(field, serializers.ListField):
        return (list,), "Must be a JSON array."
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return (dict,), "Must be a JSON object."
    return None  # JSONField and the like take any JSON value


def type_errors(field: serializers.Field, value: Any, where: str) -> dict[str, list[str]]:
    """Each value under ``where`` whose JSON type the field (or its child fields) does not take."""
    if value is None:
        return {}  # allow_null decides, with its own message
    expected = _expected(field)
    if expected is not None:
        types, message = expected
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            return {where: [message]}
    errors: dict[str, list[str]] = {}
    child = getattr(field, "child", None)
    if isinstance(field, serializers.ListField) and child is not None:
        for index, item in enumerate(value):
            errors.update(type_errors(child, item, f"{where}/{index}"))
    elif isinstance(field, serializers.DictField) and child is not None:
        for key, item in value.items():
            errors.update(type_errors(child, item, f"{where}/{key}"))
    return errors


class RequestSerializer(serializers.Serializer):
    """A serializer of a request body whose values must have the JSON types the schema states."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors: dict[str, list[str]] = {}
            for field in self._writable_fields:
                if field.field_name in data:
                    found = type_errors(field, data[field.field_name], "")
                    for pointer, messages in found.items():
                        errors.setdefault(field.field_name + pointer, []).extend(messages)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
