"""How the console shows a value: JSON style (true, false, null as "not set"), with its unit."""

import json

from django import template

register = template.Library()


@register.filter
def cloud_value(value, unit: str = ""):
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return f"{value} {unit}" if unit else str(value)
