"""Filters that refuse what they cannot read, instead of quietly listing everything.

django-filter skips a filter sent empty (``?deployment=``): the list comes back unfiltered, which
reads like an answer to the question asked. A typed filter (a UUID, a date, a number, a choice, a
boolean) sent empty is a 400 naming it, as the OpenAPI schema (``format: uuid``, ...) promises.
"""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend, refusing a typed filter (a date, a number, a choice, a boolean, a UUID) sent
    empty or unreadable as a 400 naming it; only text filters take an empty value (and ignore it)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            errors = {}
            for name, declared in filterset_class.base_filters.items():
                raw = request.query_params.get(name)
                if raw is None or type(declared) is django_filters.CharFilter:
                    continue
                if raw == "":
                    errors[name] = ["Must not be empty; leave the parameter out to list everything."]
                elif isinstance(declared, django_filters.BooleanFilter) and raw not in ("true", "false"):
                    errors[name] = ["Must be true or false."]
            if errors:
                raise ValidationError(errors)
        return super().filter_queryset(request, queryset, view)
