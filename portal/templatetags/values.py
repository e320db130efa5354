"""One way to show a raw value people read on a page: JSON style (``true``, ``null``, ``{"a": 1}``), never
Python's ``True``, ``None`` or ``{'a': 1}``. Strings are shown as they are."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """A value in JSON style; a string as it is."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=False)


@register.filter
def as_json_block(value: Any) -> str:
    """A value as indented JSON, for a ``<pre>`` block."""
    return json.dumps(value, ensure_ascii=False, default=str, indent=2)


@register.filter
def ago(when) -> str:
    """How long ago, in words: "just now" under a minute, else "5 minutes ago" (never "0 minutes ago")."""
    if not when:
        return ""
    if (timezone.now() - when).total_seconds() < 60:
        return "just now"
    return f"{timesince(when)} ago"


@register.filter
def code_spans(text) -> str:
    """A message whose `backticked` parts are code, as on the API, shown as <code> on a page (no literal
    backticks); everything else escaped."""
    import re

    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    parts = re.split(r"`([^`]*)`", str(text or ""))
    return mark_safe("".join(f"<code>{escape(p)}</code>" if i % 2 else escape(p) for i, p in enumerate(parts)))
