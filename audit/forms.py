"""Filters of the reviewer pages, read from the query string."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from bundles.models import Bundle
from deployments.choices import DeploymentStatus, Tier
from deployments.models import Project
from portal.models import Team

from .selectors import EstateFilters, TimelineFilters, timeline_event_types

RELATIVE = re.compile(r"^(\d{1,5}|an?|one)\s*(minute|min|hour|h|day|d|week|w)s?\s+ago$")
# An offset whose "+" arrived as a space: a "+" in a query string typed by hand (curl, a script, the address
# bar) reads as a space, so "...T10:00:00+02:00" comes as "...T10:00:00 02:00".
SPACED_OFFSET = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?) ((?:0\d|1[0-4]):?[0-5]\d)$")
RELATIVE_UNITS = {"minute": "minutes", "min": "minutes", "hour": "hours", "h": "hours", "day": "days", "d": "days"}
# What a reviewer may type instead of a date; offered as suggestions by the inputs (their datalist).
RELATIVE_EXAMPLES = ["now", "1 hour ago", "2 hours ago", "today", "yesterday", "7 days ago", "30 days ago"]


def relative_moment(text: str, now: datetime | None = None) -> datetime | None:
    """``now``, ``today`` and ``yesterday`` (midnight UTC), ``2 hours ago``, ``an hour ago``, ``3 days ago``,
    ``1 week ago``; None for anything else."""
    now = now or timezone.now()
    text = " ".join(text.strip().lower().split())
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    fixed = {"now": now, "today": midnight, "yesterday": midnight - timedelta(days=1)}
    if text in fixed:
        return fixed[text]
    match = RELATIVE.match(text)
    if not match:
        return None
    count = 1 if match[1] in ("a", "an", "one") else int(match[1])
    unit = match[2]
    if unit in ("week", "w"):
        return now - timedelta(weeks=count)
    return now - timedelta(**{RELATIVE_UNITS[unit]: count})


class WhenField(forms.DateTimeField):
    """A moment: ``2026-05-01``, ``2026-05-01T14:30`` (a datetime-local input), ISO 8601 with an offset, or
    relative to now (``yesterday``, ``2 hours ago``: :func:`relative_moment`).

    Times without an offset are in the site's time zone (UTC)."""

    input_formats = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
    default_error_messages = {
        "invalid": "Enter a date and time (2026-05-01 14:30), or a moment relative to now: "
        + ", ".join(RELATIVE_EXAMPLES[1:5])
        + "."
    }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"list": "when-suggestions", "placeholder": "2026-05-01 14:30 or 2 hours ago", "size": 22}
            ),
        )
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            relative = relative_moment(value)
            if relative is not None:
                return relative
            text = SPACED_OFFSET.sub(r"\1+\2", value.strip())
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return super().to_python(value)
            return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        return super().to_python(value)


def _valid(form: forms.Form) -> dict:
    """The fields that passed: one wrong field (a mistyped date) keeps the others as asked."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.cleaned_data


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
        data = _valid(self)
        return {key: data.get(key) or "" for key in ("team", "project", "tier", "bundle")}


class AsOfForm(ScopeForm):
    at = WhenField(required=False, label="As of")
    # The browser's date-time picker, for when typing a moment is not wanted; "As of" wins when both are given.
    at_pick = forms.DateTimeField(
        required=False,
        label="Pick a moment",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    status = forms.ChoiceField(required=False, choices=_choices(DeploymentStatus.choices))
    name = forms.CharField(required=False, max_length=60)
    include_destroyed = forms.BooleanField(required=False, label="Include destroyed")

    def when(self):
        data = _valid(self)
        return data.get("at") or data.get("at_pick") or timezone.now()

    def filters(self) -> EstateFilters:
        data = _valid(self)
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
        data = _valid(self)
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
        data = _valid(self)
        return TimelineFilters(
            **self.scope(),
            start=data.get("start"),
            end=data.get("end"),
            actor=data.get("actor") or "",
            event_type=data.get("event_type") or "",
            deployment=str(data["deployment"]) if data.get("deployment") else "",
        )
