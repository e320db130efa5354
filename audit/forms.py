"""Filters of the reviewer pages, read from the query string."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.utils import timezone

from bundles.models import Bundle
from deployments.choices import DeploymentStatus, Tier
from deployments.models import Project
from portal.models import Team

from .selectors import EstateFilters, TimelineFilters, timeline_event_types


class WhenField(forms.DateTimeField):
    """A moment: ``2026-05-01``, ``2026-05-01T14:30`` (a datetime-local input) or ISO 8601 with an offset.

    Times without an offset are in the site's time zone (UTC)."""

    input_formats = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return super().to_python(value)
            return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        return super().to_python(value)


def _choices(values, empty="Any"):
    return [("", empty), *values]


class ScopeForm(forms.Form):
    team = forms.ChoiceField(required=False)
    project = forms.ChoiceField(required=False)
    tier = forms.ChoiceField(required=False, choices=_choices(Tier.choices))
    bundle = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = _choices(Team.objects.order_by("slug").values_list("slug", "name"))
        self.fields["project"].choices = _choices(Project.objects.order_by("slug").values_list("slug", "slug"))
        self.fields["bundle"].choices = _choices(Bundle.objects.order_by("name").values_list("name", "name"))

    def scope(self) -> dict:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {key: data.get(key) or "" for key in ("team", "project", "tier", "bundle")}


class AsOfForm(ScopeForm):
    at = WhenField(required=False, label="As of")
    status = forms.ChoiceField(required=False, choices=_choices(DeploymentStatus.choices))
    name = forms.CharField(required=False, max_length=60)
    include_destroyed = forms.BooleanField(required=False, label="Include destroyed")

    def when(self):
        data = self.cleaned_data if self.is_valid() else {}
        return data.get("at") or timezone.now()

    def filters(self) -> EstateFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return EstateFilters(
            **self.scope(),
            status=data.get("status") or "",
            name=data.get("name") or "",
            include_destroyed=bool(data.get("include_destroyed")),
        )


class DiffForm(ScopeForm):
    start = WhenField(required=False, label="From")
    end = WhenField(required=False, label="To")

    def window(self):
        data = self.cleaned_data if self.is_valid() else {}
        end = data.get("end") or timezone.now()
        start = data.get("start") or end - timezone.timedelta(days=30)
        return start, end

    def filters(self) -> EstateFilters:
        return EstateFilters(**self.scope())


class TimelineForm(ScopeForm):
    start = WhenField(required=False, label="From")
    end = WhenField(required=False, label="To")
    actor = forms.CharField(required=False, max_length=150)
    event_type = forms.ChoiceField(required=False, label="Event")
    deployment = forms.UUIDField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = _choices([(t, t) for t in timeline_event_types()])

    def clean_end(self):
        end = self.cleaned_data.get("end")
        raw = (self.data.get("end") or "").strip()
        # A bare date as the end of a range means "to the end of that day".
        if end is not None and len(raw) == 10:
            end = timezone.make_aware(datetime.combine(end.date(), time.max))
        return end

    def filters(self) -> TimelineFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return TimelineFilters(
            **self.scope(),
            start=data.get("start"),
            end=data.get("end"),
            actor=data.get("actor") or "",
            event_type=data.get("event_type") or "",
            deployment=str(data["deployment"]) if data.get("deployment") else "",
        )
