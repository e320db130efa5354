"""One way to show a raw value people read on a page: JSON style (``true``, ``null``, ``{"a": 1}``), never
Python's ``True``, ``None`` or ``{'a': 1}``. Strings are shown as they are."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.timezone import template_localtime

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


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _local(moment, zone):
    return moment.astimezone(zone) if timezone.is_aware(moment) else template_localtime(moment)


def _shown(value: Any) -> str:
    return escape(value) if type(value) is str else conditional_escape(localize(value))


@register.filter(is_safe=True)
def log_lines(lines) -> str:
    """Run log lines as the ``log-line`` partial of ``deployments/run.html`` writes each (its time, the resource
    and action of its engine event, the text), in one pass: a page of a thousand lines through the template
    engine cost most of the run page's time. ``tests/portal/test_bounded_pages.py`` compares the two."""
    out = []
    zone = timezone.get_current_timezone()
    for line in lines:
        event = line.event
        parts = [
            f'<li role="none" class="lvl-{_shown(line.level)} stream-{_shown(line.stream)}" '
            f'data-seq="{_shown(line.seq)}">'
            f'<span class="t">{_local(line.created_at, zone).strftime("%H:%M:%S")}</span>'
        ]
        addr = _dig(event, "hook", "resource", "addr") or _dig(event, "change", "resource", "addr")
        if addr:
            parts.append(f'<span class="res">{_shown(addr)}</span>')
        action = _dig(event, "hook", "action") or _dig(event, "change", "action")
        if action:
            parts.append(f'<span class="act act-{_shown(action)}">{_shown(action)}</span>')
        elapsed = _dig(event, "hook", "elapsed_seconds")
        if elapsed is not None:
            parts.append(f'<span class="el">{_shown(elapsed)}s</span>')
        parts.append(f'<span class="msg">{_shown(line.text)}</span></li>')
        out.append("".join(parts))
    return mark_safe("".join(out))
