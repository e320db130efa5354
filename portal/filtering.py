"""Filters that refuse what they cannot read, instead of quietly listing everything.

django-filter skips a filter sent empty (``?deployment=``): the list comes back unfiltered, which
reads like an answer to the question asked. A UUID filter sent empty is a 400 naming it, as the
OpenAPI schema (``format: uuid``) promises.
"""

from __future__ import annotations

import django_filters
from django import forms


class _PresentUUIDField(forms.UUIDField):
    def clean(self, value):
        if value == "":
            raise forms.ValidationError("Must be a UUID; leave the parameter out to list everything.")
        return super().clean(value)


class StrictUUIDFilter(django_filters.UUIDFilter):
    field_class = _PresentUUIDField
