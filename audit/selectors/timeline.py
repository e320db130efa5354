"""The audit timeline: audit events, people's changes to deployments and every change to the rest of the
tracked configuration, newest first, as one queryset; each record filed under the team, project,
environment and tier its subject had when it was written (the records' scope columns)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Case, CharField, F, Q, QuerySet, TextField, UUIDField, Value, When
from django.db.models.functions import Cast, Coalesce, Concat, JSONObject, NullIf
from django.db.models.query import EmptyQuerySet

from bundles.models import Bundle, BundleVersion
from deployments.models import Environment, Policy, Project
from portal.history import ChangeReason
from portal.models import Membership, Team

from ..models import AuditEvent, Channel
from .estate import EstateFilters, HistoricalDeployment, _scalar

# Event types of the history rows shown in the timeline next to audit events.
HISTORY_EVENT_TYPES = {"deployment.created": "+", "deployment.changed": "~", "deployment.deleted": "-"}


@dataclass(frozen=True)
class TimelineFilters(EstateFilters):
    start: datetime | None = None
    end: datetime | None = None
    actor: str = ""
    event_type: str = ""
    deployment: str = ""


TIMELINE_COLUMNS = (
    "t_kind",
    "t_pk",
    "t_at",
    "t_type",
    "t_actor",
    "t_channel",
    "t_request",
    "t_deployment",
    "t_name",
    "t_project",
    "t_environment",
    "t_tier",
    "t_team",
    "t_bundle",
    "t_data",
    "t_basis",
    "t_note",
)


def _timeline_events(filters: TimelineFilters) -> QuerySet:
    qs = AuditEvent.objects.all()
    if filters.start:
        qs = qs.filter(created_at__gte=filters.start)
    if filters.end:
        qs = qs.filter(created_at__lt=filters.end)
    if filters.actor:
        qs = qs.filter(actor_name=filters.actor)
    if filters.event_type:
        qs = qs.filter(event_type=filters.event_type)
    if filters.deployment:
        qs = qs.filter(deployment_id=filters.deployment)
    qs = qs.filter(filters.scope_q(), filters.bundle_q("deployment__"))
    return qs.annotate(
        t_kind=Value("event"),
        t_pk=F("id"),
        t_at=F("created_at"),
        t_type=F("event_type"),
        t_actor=F("actor_name"),
        t_channel=F("channel"),
        t_request=F("request_id"),
        t_deployment=F("deployment_id"),
        t_name=Coalesce(F("deployment__name"), Value("")),
        **_scope_columns(),
        t_bundle=Coalesce(F("deployment__bundle_version__bundle__name"), Value("")),
        t_data=F("data"),
        t_basis=Value(""),
        t_note=Value(""),
    ).values(*TIMELINE_COLUMNS)


def _scope_columns() -> dict[str, Any]:
    """Where the record's subject stood when it was written (history rows and events alike)."""
    return {f"t_{name}": F(f"scope_{name}") for name in ("project", "environment", "tier", "team")}


def _history_window(qs: QuerySet, filters: TimelineFilters) -> QuerySet:
    """A history table narrowed to the timeline's dates and actor (the user, or the name in the reason)."""
    if filters.start:
        qs = qs.filter(history_date__gte=filters.start)
    if filters.end:
        qs = qs.filter(history_date__lt=filters.end)
    if filters.actor:
        qs = qs.filter(Q(history_actor=filters.actor) | Q(history_actor="", history_user__username=filters.actor))
    return qs


def _history_columns(kind: str, event_types: dict[str, str]) -> dict[str, Any]:
    """The timeline columns every history table fills the same way."""
    return {
        "t_kind": Value(kind),
        "t_pk": F("history_id"),
        "t_at": F("history_date"),
        "t_type": Case(
            *[When(history_type=code, then=Value(name)) for name, code in event_types.items()],
            output_field=CharField(),
        ),
        "t_actor": Coalesce(NullIf(F("history_actor"), Value("")), F("history_user__username"), Value("")),
        "t_channel": F("history_channel"),
        "t_request": F("history_request_id"),
        **_scope_columns(),
        "t_basis": F("history_basis"),
        "t_note": Coalesce(F("history_change_reason"), Value(""), output_field=TextField()),
    }


def _timeline_history(filters: TimelineFilters) -> QuerySet:
    # Status and output updates the worker writes are told by the run.* events; the timeline shows
    # the rows people caused (and creations and deletions, whoever caused them).
    qs = HistoricalDeployment.objects.filter(Q(history_type__in=["+", "-"]) | ~Q(history_channel=Channel.SYSTEM))
    qs = _history_window(qs, filters)
    if filters.event_type:
        qs = qs.filter(history_type=HISTORY_EVENT_TYPES.get(filters.event_type, "?"))
    if filters.deployment:
        qs = qs.filter(id=filters.deployment)
    qs = qs.filter(filters.scope_q(), filters.bundle_q())
    return qs.annotate(
        **_history_columns("history", HISTORY_EVENT_TYPES),
        t_deployment=F("id"),
        t_name=F("name"),
        t_bundle=F("bundle_version__bundle__name"),
        t_data=F("params"),
    ).values(*TIMELINE_COLUMNS)


@dataclass(frozen=True)
class ConfigModel:
    """A history-tracked model other than Deployment, as the timeline shows its changes: how to name a
    row, and where its bundle is (only bundles and their versions have one). Team, project, environment
    and tier are every history row's scope columns; a row with none (a bundle has no team) is left out
    by a filter on it."""

    key: str
    model: Any
    label: tuple[str, ...]  # fields and literal separators (quoted) joined into the row's name
    bundle: str | None = None

    def name(self):
        parts = [Value(p[1:-1]) if p.startswith("'") else Coalesce(Cast(p, CharField()), Value("")) for p in self.label]
        return parts[0] if len(parts) == 1 else Concat(*parts, output_field=CharField())

    def event_types(self) -> dict[str, str]:
        return {f"{self.key}.{verb}": code for verb, code in (("created", "+"), ("changed", "~"), ("deleted", "-"))}


# Who may deploy, where, under which policy, from which bundles: the rest of the tracked configuration.
CONFIG_MODELS = (
    ConfigModel("team", Team.history.model, ("slug",)),
    ConfigModel("membership", Membership.history.model, ("team__slug", "': '", "user__username", "' as '", "role")),
    ConfigModel("project", Project.history.model, ("slug",)),
    ConfigModel("environment", Environment.history.model, ("project__slug", "'/'", "slug")),
    ConfigModel(
        "policy",
        Policy.history.model,
        ("environment__project__slug", "'/'", "environment__slug", "' policy v'", "version"),
    ),
    ConfigModel("bundle", Bundle.history.model, ("name",), bundle="name"),
    ConfigModel(
        "bundle_version", BundleVersion.history.model, ("bundle__name", "'@'", "version"), bundle="bundle__name"
    ),
)
CONFIG_BY_KEY = {c.key: c for c in CONFIG_MODELS}


def _timeline_config(filters: TimelineFilters, config: ConfigModel) -> QuerySet:
    qs = config.model.objects.filter(filters.scope_q())
    # A deployment's own filter, an event type of another kind, or a bundle on a row that has none, leave it out.
    excluded = bool(filters.deployment) or bool(filters.event_type and filters.event_type not in config.event_types())
    if filters.bundle:
        excluded |= config.bundle is None
        if config.bundle is not None:
            qs = qs.filter(**{config.bundle: filters.bundle})
    if filters.event_type and not excluded:
        qs = qs.filter(history_type=config.event_types()[filters.event_type])
    qs = _history_window(qs, filters)
    rows = qs.annotate(
        **_history_columns("config", config.event_types()),
        t_deployment=Value(None, output_field=UUIDField()),
        t_name=config.name(),
        t_bundle=Cast(F(config.bundle), CharField()) if config.bundle else Value(""),
        t_data=JSONObject(model=Value(config.key), id=F("id")),
    ).values(*TIMELINE_COLUMNS)
    return rows.none() if excluded else rows


TIMELINE_ORDER = ("-t_at", "-t_pk")


def _timeline_parts(filters: TimelineFilters) -> list[QuerySet]:
    # Each part drops its model's default ordering: SQLite refuses ORDER BY inside a compound query.
    parts = [_timeline_events(filters), _timeline_history(filters)]
    parts += [_timeline_config(filters, c) for c in CONFIG_MODELS]
    return [part.order_by() for part in parts]


def timeline(filters: TimelineFilters = TimelineFilters()) -> QuerySet:
    """Audit events, people's changes to deployments and every change to the rest of the tracked
    configuration (teams, memberships, projects, environments, policies, bundles), newest first,
    as one sliceable queryset of dicts (see :class:`TimelineEntry` to read one).

    The whole of it, for the exports; a page reads :class:`TimelineRows` instead."""
    first, *rest = _timeline_parts(filters)
    return first.union(*rest, all=True).order_by(*TIMELINE_ORDER)


class TimelineRows:
    """The rows of ``timeline(filters)``, for :class:`django.core.paginator.Paginator`, read the cheap way.

    A slice reads the newest ``stop`` rows of each part (along its date index), not the whole union: the
    union of each part's first ``stop`` rows holds the first ``stop`` rows of the whole, in the same order.
    The count stops at ``cap`` (at least :data:`COUNT_CAP`, more when the page asked for lies beyond it):
    ``capped`` then says there are at least that many, and the pager says "more than". Where the database
    cannot order and limit inside a compound query (SQLite), both read the whole union as before.
    """

    COUNT_CAP = 10_000

    def __init__(self, filters: TimelineFilters, reach: int = 0):
        self.filters = filters
        self.cap = max(self.COUNT_CAP, reach) + 1
        self.capped = False
        self._parts = _timeline_parts(filters)
        self._limited = connection.features.supports_slicing_ordering_in_compound

    def count(self) -> int:
        if not self._limited:
            return timeline(self.filters).count()
        # A part's first ``cap`` rows in no order (its primary key alone: the joins go unread).
        parts = [part.values("t_pk")[: self.cap] for part in self._parts if not isinstance(part, EmptyQuerySet)]
        counted = parts[0].union(*parts[1:], all=True).count() if parts else 0
        self.capped = counted >= self.cap
        return min(counted, self.cap)

    @property
    def more_than(self) -> int:
        return self.cap - 1

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[dict]:
        if not isinstance(window, slice) or window.step is not None or window.stop is None:
            raise TypeError("TimelineRows reads slices with a stop: rows[start:stop].")
        start, stop = window.start or 0, window.stop
        if stop <= start:  # an empty page (nothing matches): a slice to nothing would empty every part
            return []
        if not self._limited:
            return list(timeline(self.filters)[start:stop])
        parts = [part for part in self._parts if not isinstance(part, EmptyQuerySet)]
        if len(parts) < 2:  # a compound query of one part is that part, already sliced: order it alone
            return list(parts[0].order_by(*TIMELINE_ORDER)[start:stop]) if parts else []
        first, *rest = [part.order_by(*TIMELINE_ORDER)[:stop] for part in parts]
        return list(first.union(*rest, all=True).order_by(*TIMELINE_ORDER)[start:stop])


# The distinct event types, one probe of the event_type index each (a "loose index scan"): a plain
# DISTINCT reads every event's entry, and the timeline's form asks on every page.
_EVENT_TYPES_SQL = """
WITH RECURSIVE t(event_type) AS (
    (SELECT event_type FROM audit_auditevent ORDER BY event_type LIMIT 1)
    UNION ALL
    SELECT (SELECT e.event_type FROM audit_auditevent e WHERE e.event_type > t.event_type ORDER BY e.event_type LIMIT 1)
    FROM t WHERE t.event_type IS NOT NULL
)
SELECT event_type FROM t WHERE event_type IS NOT NULL
"""


def _recorded_event_types() -> list[str]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_EVENT_TYPES_SQL)
            return [row[0] for row in cursor.fetchall()]
    return list(AuditEvent.objects.order_by().values_list("event_type", flat=True).distinct())


def timeline_event_types() -> list[str]:
    recorded = _recorded_event_types()
    config = {t for c in CONFIG_MODELS for t in c.event_types()}
    return sorted(set(recorded) | set(HISTORY_EVENT_TYPES) | config)


@dataclass(slots=True)
class TimelineEntry:
    kind: str  # event | history
    pk: int
    at: datetime
    event_type: str
    actor: str
    channel: str
    request_id: str
    deployment_id: Any
    name: str
    project: str
    environment: str
    tier: str
    team: str
    bundle: str
    data: dict
    reason: ChangeReason | None = None
    detail: str = ""

    @classmethod
    def from_row(cls, row: dict) -> TimelineEntry:
        entry = cls(*(row[c] for c in TIMELINE_COLUMNS[:-2]))
        if entry.kind in ("history", "config"):
            entry.channel = entry.channel or Channel.SYSTEM
            entry.actor = entry.actor or "system"
            entry.reason = ChangeReason(entry.channel, entry.actor, entry.request_id, row["t_basis"], row["t_note"])
        entry.detail = entry.describe()
        return entry

    @property
    def channel_label(self) -> str:
        return dict(Channel.choices).get(self.channel, self.channel)

    @property
    def subject_kind(self) -> str:
        """For a configuration change: what kind of thing changed (``bundle version``)."""
        return str((self.data or {}).get("model", "")).replace("_", " ")

    @property
    def where(self) -> str:
        return f"{self.project}/{self.environment}" if self.project else ""

    def describe(self) -> str:
        """One line saying what happened, for the page and the export."""
        data = self.data or {}
        if self.kind == "config":
            note = self.reason.note if self.reason else ""
            subject, verb = self.event_type.rsplit(".", 1)
            return f"{subject.replace('_', ' ').capitalize()} {self.name} {verb}" + (f": {note}" if note else "")
        if self.kind == "history":
            note = self.reason.note if self.reason else ""
            basis = f" (basis: {self.reason.basis})" if self.reason and self.reason.basis else ""
            return (note or self.event_type.split(".")[1]) + basis
        parts = []
        if "environment_run" in data:  # deploy-all, plan-all, teardown of a whole environment
            parts.append(f"environment run #{data['environment_run']}")
            if data.get("levels"):
                parts.append("; ".join(f"level {n}: {', '.join(names)}" for n, names in enumerate(data["levels"], 1)))
            if data.get("message"):
                parts.append(str(data["message"]))
        if "run" in data:
            parts.append(f"run #{data['run']}")
        if data.get("action"):
            parts.append(str(data["action"]))
        if data.get("status") and not self.event_type.endswith(str(data["status"])):
            parts.append(str(data["status"]))
        if data.get("reason"):
            parts.append(f"“{data['reason']}”")
        if data.get("error"):
            parts.append(" ".join(str(data["error"]).split())[:200])
        if not parts:
            parts = [f"{k}={_scalar(v)}" for k, v in list(data.items())[:4]]
        return " · ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "id": self.pk,
            "event_type": self.event_type,
            "actor": self.actor,
            "channel": self.channel,
            "request_id": self.request_id,
            "deployment": str(self.deployment_id) if self.deployment_id else "",
            "name": self.name,
            "where": self.where,
            "tier": self.tier,
            "team": self.team,
            "bundle": self.bundle,
            "approval_basis": self.reason.basis if self.reason else "",
            "detail": self.detail,
            "data": self.data,
        }
