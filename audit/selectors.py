"""Reads for reviewers: the estate as of a time, the diff between two times, the timeline, and one
deployment's history.

"The estate at T" is, for every deployment, its newest history row at or before T, unless that
row is a deletion or says ``destroyed``. Team, project, tier and bundle never change for a
deployment (its environment is fixed, a new version stays in the same bundle), so filters on
them can be applied before the newest row is chosen, which keeps the queries narrow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    UUIDField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, JSONObject

from deployments.choices import DeploymentStatus, RunAction, RunStatus
from deployments.models import Deployment, Run

from .diff import ADDED, CHANGED, REMOVED, Change, diff_params, summarize
from .history import ChangeReason, channel_prefix, parse_change_reason
from .models import AuditEvent, Channel

HistoricalDeployment = Deployment.history.model

# Event types of the history rows shown in the timeline next to audit events.
HISTORY_EVENT_TYPES = {"deployment.created": "+", "deployment.changed": "~", "deployment.deleted": "-"}
_RUN_IN_NOTE = re.compile(r"run #(\d+)")


@dataclass(frozen=True)
class EstateFilters:
    """What a reviewer narrowed the estate to. Empty means everything."""

    team: str = ""
    project: str = ""
    tier: str = ""
    bundle: str = ""
    status: str = ""
    name: str = ""
    include_destroyed: bool = False

    def scope_q(self, prefix: str = "") -> Q:
        """Conditions on what never changes for a deployment, on a model with ``environment`` and
        ``bundle_version`` (Deployment or its history) reached through ``prefix``."""
        q = Q()
        if self.team:
            q &= Q(**{f"{prefix}environment__project__team__slug": self.team})
        if self.project:
            q &= Q(**{f"{prefix}environment__project__slug": self.project})
        if self.tier:
            q &= Q(**{f"{prefix}environment__tier": self.tier})
        if self.bundle:
            q &= Q(**{f"{prefix}bundle_version__bundle__name": self.bundle})
        return q


# --- as of -------------------------------------------------------------------------------


def _latest_rows(rows: QuerySet) -> QuerySet:
    """The newest of ``rows`` for each deployment.

    PostgreSQL: ``DISTINCT ON (id)`` along the (id, history_date, history_id) index added by the
    audit migrations. Elsewhere: rows with no later row for the same deployment.
    """
    if connection.vendor == "postgresql":
        newest = rows.order_by("id", "-history_date", "-history_id").distinct("id").values("history_id")
        return HistoricalDeployment.objects.filter(history_id__in=newest).order_by()
    newest = rows.filter(id=OuterRef("id")).order_by("-history_date", "-history_id").values("history_id")[:1]
    return rows.filter(history_id=Subquery(newest)).order_by()


def estate_as_of(when: datetime, filters: EstateFilters = EstateFilters()) -> QuerySet:
    """Historical deployment rows: every deployment as it was at ``when``."""
    rows = HistoricalDeployment.objects.filter(filters.scope_q(), history_date__lte=when)
    if filters.name:
        rows = rows.filter(name__icontains=filters.name)
    qs = _latest_rows(rows).exclude(history_type="-")
    if filters.status:
        qs = qs.filter(status=filters.status)
    elif not filters.include_destroyed:
        qs = qs.exclude(status=DeploymentStatus.DESTROYED)
    return qs.select_related(
        "environment", "environment__project", "environment__project__team", "bundle_version", "bundle_version__bundle"
    ).order_by("environment__project__slug", "environment__slug", "name", "id")


def params_summary(params: Any, limit: int = 4) -> str:
    """``key=value`` for the first few top-level params, to recognise a configuration at a glance."""
    if not isinstance(params, dict) or not params:
        return "—"
    items = [f"{key}={_scalar(value)}" for key, value in sorted(params.items())[:limit]]
    more = len(params) - limit
    return ", ".join(items) + (f", +{more} more" if more > 0 else "")


def _scalar(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    text = str(value)
    return text if len(text) <= 30 else text[:29] + "…"


# --- diff --------------------------------------------------------------------------------


@dataclass(slots=True)
class RunLine:
    """A run inside the diff window: who asked, through which door, on what basis, and the outcome."""

    id: int
    action: str
    status: str
    requested_by: str
    channel: str
    reason: str
    approval_basis: str
    created_at: datetime

    @property
    def applied_without_approval(self) -> bool:
        return (
            self.status == RunStatus.SUCCEEDED
            and self.action in (RunAction.APPLY, RunAction.DESTROY)
            and not self.approval_basis
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "status": self.status,
            "requested_by": self.requested_by,
            "channel": self.channel,
            "reason": self.reason,
            "approval_basis": self.approval_basis,
            "created_at": self.created_at.isoformat(),
            "applied_without_approval": self.applied_without_approval,
        }


@dataclass(slots=True)
class DiffEntry:
    deployment_id: Any
    name: str
    kind: str  # added | removed | changed
    environment_id: int
    old_version_id: int | None
    new_version_id: int | None
    old_status: str
    new_status: str
    changes: list[Change] = field(default_factory=list)
    runs: list[RunLine] = field(default_factory=list)
    label: str = ""
    tier: str = ""
    team: str = ""
    bundle: str = ""
    old_version: str = ""
    new_version: str = ""

    @property
    def version_changed(self) -> bool:
        return self.kind == "changed" and self.old_version_id != self.new_version_id

    @property
    def unapproved(self) -> bool:
        return any(run.applied_without_approval for run in self.runs)

    @property
    def summary(self) -> str:
        return summarize(self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployment": str(self.deployment_id),
            "name": self.name,
            "where": self.label,
            "tier": self.tier,
            "team": self.team,
            "bundle": self.bundle,
            "kind": self.kind,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "old_status": self.old_status,
            "new_status": self.new_status,
            "changes": [c.as_dict() for c in self.changes],
            "runs": [r.as_dict() for r in self.runs],
            "applied_without_approval": self.unapproved,
        }


@dataclass(slots=True)
class EstateDiff:
    start: datetime
    end: datetime
    entries: list[DiffEntry]

    def counts(self) -> dict[str, int]:
        out = {"added": 0, "removed": 0, "changed": 0, "keys_changed": 0, "without_approval": 0}
        for entry in self.entries:
            out[entry.kind] += 1
            out["keys_changed"] += len(entry.changes)
            out["without_approval"] += entry.unapproved
        return out


_STATE_FIELDS = ("id", "history_id", "history_type", "name", "status", "params", "bundle_version_id", "environment_id")


def _present(row: dict | None) -> bool:
    return row is not None and row["history_type"] != "-" and row["status"] != DeploymentStatus.DESTROYED


def estate_diff(start: datetime, end: datetime, filters: EstateFilters = EstateFilters()) -> EstateDiff:
    """What was added, removed and changed (params or bundle version) between ``start`` and ``end``.

    Only deployments with a history row inside the window can differ, so both states are read
    for those alone. Changes are net: a key changed and changed back inside the window is no change.
    """
    window = HistoricalDeployment.objects.filter(filters.scope_q(), history_date__gt=start, history_date__lte=end)
    if filters.name:
        window = window.filter(name__icontains=filters.name)
    touched = window.order_by().values("id").distinct()

    def state(when: datetime) -> dict[Any, dict]:
        # One index probe per touched deployment (newest row at or before ``when``), rather than a
        # walk over every row before ``when``: the window is usually small next to the estate.
        newest = (
            HistoricalDeployment.objects.filter(id=OuterRef("id"), history_date__lte=when)
            .order_by("-history_date", "-history_id")
            .values("history_id")[:1]
        )
        latest_ids = touched.annotate(latest=Subquery(newest)).values("latest")
        rows = HistoricalDeployment.objects.filter(history_id__in=latest_ids).order_by()
        # A plain fetch: tens of thousands of small rows come faster than through a server-side cursor.
        return {row[0]: dict(zip(_STATE_FIELDS, row, strict=True)) for row in rows.values_list(*_STATE_FIELDS)}

    before, after = state(start), state(end)
    entries: list[DiffEntry] = []
    for dep_id, new in after.items():
        old = before.get(dep_id)
        was, now = _present(old), _present(new)
        if not was and not now:
            continue
        if was and now:
            changes = diff_params(old["params"], new["params"])
            if not changes and old["bundle_version_id"] == new["bundle_version_id"]:
                continue
            kind = "changed"
        elif now:
            kind, changes = ADDED, diff_params({}, new["params"])
        else:
            kind, changes = REMOVED, []
        entries.append(
            DiffEntry(
                deployment_id=dep_id,
                name=new["name"],
                kind=kind,
                environment_id=new["environment_id"],
                old_version_id=old["bundle_version_id"] if was else None,
                new_version_id=new["bundle_version_id"] if now else None,
                old_status=old["status"] if old else "",
                new_status=new["status"] if new["history_type"] != "-" else "deleted",
                changes=changes,
            )
        )
    _attach_runs(entries, start, end, touched)
    _attach_labels(entries)
    entries.sort(key=lambda e: ({"added": 0, "changed": 1, "removed": 2}[e.kind], e.label, e.name))
    return EstateDiff(start=start, end=end, entries=entries)


def _attach_runs(entries: list[DiffEntry], start: datetime, end: datetime, touched: QuerySet) -> None:
    by_id = {entry.deployment_id: entry for entry in entries}
    if not by_id:
        return
    runs = Run.objects.filter(created_at__gt=start, created_at__lte=end, deployment_id__in=touched)
    fields = ("deployment_id", "id", "action", "status", "requested_by_name", "channel", "reason", "approval_basis")
    # Tens of thousands of timestamps: read as text and parsed by datetime.fromisoformat, which is
    # many times faster than the driver's general-purpose parser.
    rows = runs.order_by("created_at", "id").annotate(created_text=Cast("created_at", TextField()))
    for deployment_id, *values, created_text in rows.values_list(*fields, "created_text"):
        entry = by_id.get(deployment_id)
        if entry is not None:
            entry.runs.append(RunLine(*values, created_at=_timestamp(created_text)))


def _timestamp(text: str) -> datetime:
    """A timestamp as the database prints it (PostgreSQL ``+00``, or SQLite's naive UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _attach_labels(entries: list[DiffEntry]) -> None:
    from bundles.models import BundleVersion
    from deployments.models import Environment

    env_ids = {e.environment_id for e in entries}
    envs = {
        env.pk: env for env in Environment.objects.filter(pk__in=env_ids).select_related("project", "project__team")
    }
    version_ids = {v for e in entries for v in (e.old_version_id, e.new_version_id) if v}
    versions = {v.pk: v for v in BundleVersion.objects.filter(pk__in=version_ids).select_related("bundle")}
    for entry in entries:
        env = envs.get(entry.environment_id)
        if env is not None:
            entry.label, entry.tier, entry.team = f"{env.project.slug}/{env.slug}", env.tier, env.project.team.slug
        old, new = versions.get(entry.old_version_id), versions.get(entry.new_version_id)
        entry.old_version = str(old) if old else ""
        entry.new_version = str(new) if new else ""
        entry.bundle = (new or old).bundle.name if (new or old) else ""


# --- timeline ----------------------------------------------------------------------------


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
    scope = filters.scope_q("deployment__")
    if scope:
        qs = qs.filter(scope)
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
        t_project=Coalesce(F("deployment__environment__project__slug"), Value("")),
        t_environment=Coalesce(F("deployment__environment__slug"), Value("")),
        t_tier=Coalesce(F("deployment__environment__tier"), Value("")),
        t_team=Coalesce(F("deployment__environment__project__team__slug"), Value("")),
        t_bundle=Coalesce(F("deployment__bundle_version__bundle__name"), Value("")),
        t_data=F("data"),
    ).values(*TIMELINE_COLUMNS)


def _history_window(qs: QuerySet, filters: TimelineFilters) -> QuerySet:
    """A history table narrowed to the timeline's dates and actor (the user, or the name in the reason)."""
    if filters.start:
        qs = qs.filter(history_date__gte=filters.start)
    if filters.end:
        qs = qs.filter(history_date__lt=filters.end)
    if filters.actor:
        qs = qs.filter(
            Q(history_user__username=filters.actor)
            | Q(history_change_reason__contains='"a":"' + filters.actor.replace('"', "") + '"')
        )
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
        "t_actor": Coalesce(F("history_user__username"), Value("")),
        "t_channel": F("history_change_reason"),
        "t_request": Value(""),
    }


def _timeline_history(filters: TimelineFilters) -> QuerySet:
    # Status and output updates the worker writes are told by the run.* events; the timeline shows
    # the rows people caused (and creations and deletions, whoever caused them).
    qs = HistoricalDeployment.objects.filter(
        Q(history_type__in=["+", "-"]) | ~Q(history_change_reason__startswith=channel_prefix(Channel.SYSTEM))
    )
    qs = _history_window(qs, filters)
    if filters.event_type:
        qs = qs.filter(history_type=HISTORY_EVENT_TYPES.get(filters.event_type, "?"))
    if filters.deployment:
        qs = qs.filter(id=filters.deployment)
    qs = qs.filter(filters.scope_q())
    return qs.annotate(
        **_history_columns("history", HISTORY_EVENT_TYPES),
        t_deployment=F("id"),
        t_name=F("name"),
        t_project=F("environment__project__slug"),
        t_environment=F("environment__slug"),
        t_tier=F("environment__tier"),
        t_team=F("environment__project__team__slug"),
        t_bundle=F("bundle_version__bundle__name"),
        t_data=F("params"),
    ).values(*TIMELINE_COLUMNS)


@dataclass(frozen=True)
class ConfigModel:
    """A history-tracked model other than Deployment, as the timeline shows its changes: how to
    name a row, and where its team, project, environment, tier and bundle are (None: it has none,
    so a filter on that excludes its rows)."""

    key: str
    label: tuple[str, ...]  # fields and literal separators (quoted) joined into the row's name
    team: str | None = None
    project: str | None = None
    environment: str | None = None
    tier: str | None = None
    bundle: str | None = None

    @property
    def model(self):
        from bundles.models import Bundle, BundleVersion
        from deployments.models import Environment, Policy, Project
        from portal.models import Membership, Team

        tracked = {
            "team": Team,
            "membership": Membership,
            "project": Project,
            "environment": Environment,
            "policy": Policy,
            "bundle": Bundle,
            "bundle_version": BundleVersion,
        }[self.key]
        return tracked.history.model

    def name(self):
        parts = [Value(p[1:-1]) if p.startswith("'") else Coalesce(Cast(p, CharField()), Value("")) for p in self.label]
        return parts[0] if len(parts) == 1 else Concat(*parts, output_field=CharField())

    def event_types(self) -> dict[str, str]:
        return {f"{self.key}.{verb}": code for verb, code in (("created", "+"), ("changed", "~"), ("deleted", "-"))}


# Who may deploy, where, under which policy, from which bundles: the rest of the tracked configuration.
CONFIG_MODELS = (
    ConfigModel("team", ("slug",), team="slug"),
    ConfigModel("membership", ("team__slug", "': '", "user__username", "' as '", "role"), team="team__slug"),
    ConfigModel("project", ("slug",), team="team__slug", project="slug"),
    ConfigModel(
        "environment",
        ("project__slug", "'/'", "slug"),
        team="project__team__slug",
        project="project__slug",
        environment="slug",
        tier="tier",
    ),
    ConfigModel(
        "policy",
        ("environment__project__slug", "'/'", "environment__slug", "' policy v'", "version"),
        team="environment__project__team__slug",
        project="environment__project__slug",
        environment="environment__slug",
        tier="environment__tier",
    ),
    ConfigModel("bundle", ("name",), bundle="name"),
    ConfigModel("bundle_version", ("bundle__name", "'@'", "version"), bundle="bundle__name"),
)
CONFIG_BY_KEY = {c.key: c for c in CONFIG_MODELS}


def _timeline_config(filters: TimelineFilters, config: ConfigModel) -> QuerySet:
    qs = config.model.objects.all()
    # A deployment's own filter, or a scope this kind of row does not have, leaves it out entirely.
    excluded = bool(filters.deployment) or bool(filters.event_type and filters.event_type not in config.event_types())
    for scope in ("team", "project", "tier", "bundle"):
        value = getattr(filters, scope)
        if value:
            lookup = getattr(config, scope)
            excluded |= lookup is None
            if lookup is not None:
                qs = qs.filter(**{lookup: value})
    if filters.event_type and not excluded:
        qs = qs.filter(history_type=config.event_types()[filters.event_type])
    qs = _history_window(qs, filters)

    def text(lookup: str | None):
        return Cast(F(lookup), CharField()) if lookup else Value("")

    rows = qs.annotate(
        **_history_columns("config", config.event_types()),
        t_deployment=Value(None, output_field=UUIDField()),
        t_name=config.name(),
        t_project=text(config.project),
        t_environment=text(config.environment),
        t_tier=text(config.tier),
        t_team=text(config.team),
        t_bundle=text(config.bundle),
        t_data=JSONObject(model=Value(config.key), id=F("id")),
    ).values(*TIMELINE_COLUMNS)
    return rows.none() if excluded else rows


def timeline(filters: TimelineFilters = TimelineFilters()) -> QuerySet:
    """Audit events, people's changes to deployments and every change to the rest of the tracked
    configuration (teams, memberships, projects, environments, policies, bundles), newest first,
    as one sliceable queryset of dicts (see :class:`TimelineEntry` to read one)."""
    # Each part drops its model's default ordering: SQLite refuses ORDER BY inside a compound query.
    events, history = _timeline_events(filters).order_by(), _timeline_history(filters).order_by()
    configs = [_timeline_config(filters, c).order_by() for c in CONFIG_MODELS]
    return events.union(history, *configs, all=True).order_by("-t_at", "-t_pk")


def timeline_event_types() -> list[str]:
    recorded = AuditEvent.objects.order_by().values_list("event_type", flat=True).distinct()
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
        entry = cls(*(row[c] for c in TIMELINE_COLUMNS))
        if entry.kind in ("history", "config"):
            entry.reason = parse_change_reason(entry.channel)
            entry.channel = entry.reason.channel or Channel.SYSTEM
            entry.actor = entry.reason.actor or entry.actor or "system"
            entry.request_id = entry.reason.request_id
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


# --- one deployment's history ------------------------------------------------------------


@dataclass(slots=True)
class HistoryStep:
    """One version of a deployment, with what changed since the one before."""

    row: Any
    previous: Any
    reason: ChangeReason
    changes: list[Change]
    run: Run | None = None

    @property
    def kind(self) -> str:
        if self.row.history_type == "+":
            return "created"
        if self.row.history_type == "-":
            return "deleted"
        if self.changes or self.version_changed:
            return "configuration"
        if self.previous is not None and self.previous.status != self.row.status:
            return "status"
        return "other"

    @property
    def version_changed(self) -> bool:
        return self.previous is not None and self.previous.bundle_version_id != self.row.bundle_version_id

    @property
    def actor(self) -> str:
        user = self.row.history_user
        return self.reason.actor or (user.get_username() if user else "") or "system"

    @property
    def approval_basis(self) -> str:
        return self.reason.basis or (self.run.approval_basis if self.run else "")

    @property
    def restorable(self) -> bool:
        return self.row.history_type != "-" and bool(self.row.params)


def deployment_history(deployment: Deployment) -> list[HistoryStep]:
    """Every version of ``deployment``, newest first, each with its diff and the run it caused."""
    rows = list(
        deployment.history.select_related("history_user", "bundle_version", "bundle_version__bundle").order_by(
            "history_date", "history_id"
        )
    )
    runs = list(deployment.runs.order_by("created_at", "id"))
    runs_by_id = {run.pk: run for run in runs}
    run_by_request = _runs_by_request(deployment)
    steps: list[HistoryStep] = []
    previous = None
    for row in rows:
        reason = parse_change_reason(row.history_change_reason)
        changes = diff_params(previous.params if previous is not None else {}, row.params)
        step = HistoryStep(row=row, previous=previous, reason=reason, changes=changes)
        step.run = _run_for_step(step, runs, runs_by_id, run_by_request)
        steps.append(step)
        previous = row
    return steps[::-1]


def _runs_by_request(deployment: Deployment) -> dict[str, int]:
    events = AuditEvent.objects.filter(deployment_id=deployment.pk, event_type="run.requested").exclude(request_id="")
    return {e.request_id: e.data.get("run") for e in events.only("request_id", "data")}


def _run_for_step(step: HistoryStep, runs: list[Run], runs_by_id: dict, run_by_request: dict) -> Run | None:
    """The run this version caused (a change, a destroy request) or that caused it (a status update)."""
    match = _RUN_IN_NOTE.search(step.reason.note)
    if match:
        return runs_by_id.get(int(match.group(1)))
    if step.kind not in ("created", "configuration") and step.row.status != DeploymentStatus.DESTROYING:
        return None
    if step.reason.request_id:
        # The reason keeps at most 32 characters of an id (a proxy may send longer ones); the event keeps it whole.
        for request_id, run_id in run_by_request.items():
            if request_id.startswith(step.reason.request_id):
                return runs_by_id.get(run_id)
    # No request (a service called from a task or a shell): the run requested in the same
    # transaction, a moment before (destroy) or after (change) the row.
    when = step.row.history_date
    near = [r for r in runs if abs((r.created_at - when).total_seconds()) < 5]
    return min(near, key=lambda r: abs(r.created_at - when), default=None)


# --- one change to the rest of the configuration ------------------------------------------


@dataclass(slots=True)
class ConfigChange:
    """One history row of a team, membership, project, environment, policy or bundle, with what
    changed since the row before it (field by field; JSON fields key by key)."""

    config: ConfigModel
    row: Any
    previous: Any
    reason: ChangeReason
    changes: list[Change]
    label: str = ""

    @property
    def event_type(self) -> str:
        return {"+": "created", "~": "changed", "-": "deleted"}[self.row.history_type]

    @property
    def actor(self) -> str:
        user = self.row.history_user
        return self.reason.actor or (user.get_username() if user else "") or "system"

    @property
    def channel_label(self) -> str:
        return self.reason.channel_label


def config_change(key: str, history_id: int) -> ConfigChange | None:
    config = CONFIG_BY_KEY.get(key)
    if config is None:
        return None
    model = config.model
    row = model.objects.filter(history_id=history_id).select_related("history_user").first()
    if row is None:
        return None
    previous = (
        model.objects.filter(id=row.id)
        .filter(Q(history_date__lt=row.history_date) | Q(history_date=row.history_date, history_id__lt=row.history_id))
        .order_by("-history_date", "-history_id")
        .first()
    )
    changes: list[Change] = []
    for f in model._meta.fields:
        if f.name.startswith("history_") or f.name == "id":
            continue
        new = getattr(row, f.attname)
        if previous is None:  # created: what it was created with
            if new in (None, "", [], {}):
                continue
            if isinstance(new, dict):
                changes += diff_params({}, new, f.name)
            else:
                changes.append(Change(f.name, ADDED, new=_shown(new)))
            continue
        old = getattr(previous, f.attname)
        if f.get_internal_type() == "JSONField":
            changes += diff_params(old, new, f.name)
        elif old != new:
            changes.append(Change(f.name, CHANGED, old=_shown(old), new=_shown(new)))
    try:
        label = str(row.instance)
    except ObjectDoesNotExist:  # it names a row since deleted (a user, a team)
        label = f"{config.key.replace('_', ' ')} #{row.id}"
    return ConfigChange(config, row, previous, parse_change_reason(row.history_change_reason), changes, label)


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
