"""The console's forms, drawn from a resource's kind: one field per attribute that can change in place."""

from __future__ import annotations

from django import forms

from .kinds import Field
from .models import Resource


def _form_field(spec: Field) -> forms.Field:
    label = f"{spec.title} ({spec.unit})" if spec.unit else spec.title
    common = {"label": label, "help_text": spec.description, "required": spec.required}
    if spec.type == "bool":
        return forms.BooleanField(label=label, help_text=spec.description, required=False)
    if spec.enum:
        choices = [(str(v), str(v)) for v in spec.enum]
        if not spec.required and spec.default is None:
            choices = [("", "(none)"), *choices]
        coerce = {"integer": int, "number": float}.get(spec.type, str)
        return forms.TypedChoiceField(choices=choices, coerce=coerce, empty_value=None, **common)
    if spec.type == "integer":
        return forms.IntegerField(min_value=spec.minimum, max_value=spec.maximum, **common)
    if spec.type == "number":
        return forms.FloatField(min_value=spec.minimum, max_value=spec.maximum, **common)
    return forms.CharField(max_length=255, strip=True, empty_value=None, **common)


class ResourceEditForm(forms.Form):
    """Edit a resource by hand, as in a cloud console's "Modify": every attribute that can change in place.

    ``changed_attributes()`` gives only what the person changed, which is what the service receives.
    """

    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, resource: Resource, **kwargs):
        self.resource = resource
        initial = {f.name: _initial(f, resource.attributes.get(f.name)) for f in self.editable}
        initial["version"] = resource.version
        super().__init__(*args, initial=initial, **kwargs)
        for spec in self.editable:
            self.fields[spec.name] = _form_field(spec)

    @property
    def editable(self) -> list[Field]:
        return [f for f in self.resource.spec.fields if not f.replace and not f.write_only]

    def changed_attributes(self) -> dict:
        changed = {}
        for spec in self.editable:
            value = self.cleaned_data.get(spec.name)
            if spec.type == "number" and isinstance(value, float) and value.is_integer():
                value = int(value)
            if value != self.resource.attributes.get(spec.name):
                changed[spec.name] = value
        return changed


def _initial(spec: Field, value):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value) if spec.enum and value is not None else value


class DeleteForm(forms.Form):
    confirm = forms.CharField(label="Type the resource's name to delete it", max_length=63)
