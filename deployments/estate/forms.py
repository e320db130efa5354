"""The forms of the bulk-change pages (the API has its serializers)."""

from __future__ import annotations

import json

from django import forms

from bundles.models import BundleVersion
from portal.inputs import InputProblemsMixin


def parse_change_lines(text: str) -> list[dict]:
    """``set /path = <json or text>`` and ``unset /path``, one per line (``#`` starts a comment)."""
    patch = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        verb, _, rest = line.partition(" ")
        if verb == "unset":
            patch.append({"op": "unset", "path": rest.strip()})
        elif verb == "set" and "=" in rest:
            path, _, value = rest.partition("=")
            try:
                parsed = json.loads(value.strip())
            except ValueError:
                parsed = value.strip()
            patch.append({"op": "set", "path": path.strip(), "value": parsed})
        else:
            raise forms.ValidationError(f"Line {number}: write `set /path = value` or `unset /path`.")
    return patch


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: BundleVersion) -> str:
        return str(obj)


class BulkChangeForm(InputProblemsMixin, forms.Form):
    """A new bulk change: what to target, what to change. The service checks the rest (the query, ops)."""

    title = forms.CharField(required=False, max_length=200)
    q = forms.CharField(label="Targets (an estate query)", max_length=2000)
    changes = forms.CharField(required=False, widget=forms.Textarea)
    target_version = VersionChoiceField(
        required=False,
        queryset=BundleVersion.objects.select_related("bundle").order_by("bundle__name", "-major", "-minor", "-patch"),
        empty_label="Keep each deployment's version",
    )
    plan = forms.BooleanField(required=False, initial=True)

    def clean_changes(self) -> list[dict]:
        return parse_change_lines(self.cleaned_data["changes"])


class RolloutForm(forms.Form):
    """How a tested bulk change rolls out."""

    wave_size = forms.IntegerField(min_value=1, initial=5)
    pause_seconds = forms.IntegerField(min_value=0, initial=0)
    failure_threshold = forms.IntegerField(min_value=1, initial=1)
    include_risky = forms.BooleanField(required=False)
