"""The form renderer: Django's, with ``<select>`` written in Python.

Django draws a select with one template include per option (and another for each option's attributes). A
filter with 200 projects, 20 teams and the event types took about 40 ms of the audit timeline's 57 ms
(bench/pages.py). :class:`FormRenderer` writes the same markup, byte for byte, from the same context
(``widget.optgroups``, each option's attributes), so every select in the portal and the admin, model
choices included, is drawn the same way in a fraction of the time. ``tests/portal/test_form_rendering.py``
compares the two over escaping, attributes, groups, multiple choice and whole forms.

It stands aside when the project or an app overrides Django's select or option templates (they are then
rendered as written) and for a widget with templates of its own.
"""

from __future__ import annotations

from functools import cached_property

from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"
ATTRS = "django/forms/widgets/attrs.html"


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


def select_html(widget: dict) -> SafeString:
    """``select.html`` with ``select_option.html`` for each option, from the widget's context."""
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
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
    """Django's template renderer, but a select drawn by :func:`select_html` (same markup, no includes)."""

    @cached_property
    def _own_templates(self) -> bool:
        """Whether select, option and attributes resolve to Django's own files (nobody overrides them)."""
        own = forms.__path__[0]
        return all(self.get_template(name).origin.name.startswith(own) for name in (SELECT, OPTION, ATTRS))

    def render(self, template_name, context, request=None):
        widget = context.get("widget") if template_name == SELECT else None
        if (
            widget is not None
            and all(option["template_name"] == OPTION for _, options, _ in widget["optgroups"] for option in options)
            and self._own_templates
        ):
            return select_html(widget)
        return super().render(template_name, context, request=request)
