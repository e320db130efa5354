"""The form renderer: Django's, with ``<select>`` written in Python.

Django draws a select with one template include per option (and another for each option's attributes). A
filter with 200 projects, 20 teams and the event types took about 40 ms of the audit timeline's 57 ms
(bench/pages.py). :class:`FormRenderer` writes the same markup from the same context (``widget.optgroups``,
each option's attributes), so every select in the portal and the admin, model choices included, is drawn
the same way in a fraction of the time. ``tests/portal/test_form_rendering.py`` compares the two over
escaping, attributes, groups, multiple choice and whole forms.

It writes a select only when every option uses Django's option template and every label and group name is
text: the templates would localise a number or a date (``1,5`` in German, ``May 1, 2026``), which this
does not, so such a select is left to them. (Django's renderer reads its own widget templates before any
app's, so their markup is the one to match.)
"""

from __future__ import annotations

from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"


def _attrs(attrs: dict) -> str:
    """``attrs.html``: `` name="value"`` each, a bare name for True, nothing for False."""
    return "".join(
        f" {conditional_escape(name)}" if value is True else f' {conditional_escape(name)}="{_text(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _text(value) -> str:
    """``{{ value|stringformat:'s' }}``: the value as text, escaped unless it is already safe HTML."""
    return conditional_escape(str(value))  # (str of a SafeString is itself: left as it is)


def _is_text(value) -> bool:
    return isinstance(value, str | Promise)


def select_html(name, attrs: dict, groups: list) -> SafeString:
    """``select.html`` with ``select_option.html`` for each option, from the widget's context."""
    parts = [f'<select name="{conditional_escape(name)}"{_attrs(attrs)}>']
    for group_name, options, _index in groups:
        if group_name:
            parts.append(format_html('\n  <optgroup label="{}">', group_name))
        for option in options:
            parts.append(
                f'\n  <option value="{_text(option["value"])}"{_attrs(option["attrs"])}>'
                f"{conditional_escape(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return mark_safe("".join(parts))  # every value above is escaped


class FormRenderer(DjangoTemplates):
    """Django's template renderer, but a select of text options drawn by :func:`select_html` (no includes)."""

    def render(self, template_name, context, request=None):
        widget = context.get("widget") if template_name == SELECT else None
        if widget is not None and "optgroups" in widget:
            groups = list(widget["optgroups"])  # read once: it may be a generator
            widget["optgroups"] = groups
            if all(
                (not group_name or _is_text(group_name))
                and all(option["template_name"] == OPTION and _is_text(option["label"]) for option in options)
                for group_name, options, _ in groups
            ):
                return select_html(widget["name"], widget["attrs"], groups)
        return super().render(template_name, context, request=request)
