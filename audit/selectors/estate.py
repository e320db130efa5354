"""Reads for reviewers: the estate as of a time, and the diff between two times.

"The estate at T" is, for every deployment, its newest history row at or before T, unless that
row is a deletion or says ``destroyed``. Each history row carries the team, project, environment
and tier its deployment had when the row was written (``portal.history``), so a deployment is filed
where it stood at T, even if its project moved to another team or its environment changed tier
since. The bundle never changes for a deployment (a new version stays in the same bundle).
"""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Cast

from bundles.models import BundleVersion
from deployments.choices import DeploymentStatus, RunAction, RunStatus
from deployments.models import Deployment, Run

from ..diff import ADDED, REMOVED, Change, diff_connections, diff_params, summarize
from ..models import DeploymentSpan
from .producers import name_producers

HistoricalDeployment = Deployment.history.model


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

    def scope_q(self) -> Q:
        """Conditions on a record's scope columns (a history row or an audit event): where its subject
        stood when it was written."""
        q = Q()
        for name in ("team", "project", "tier"):
            if getattr(self, name):
                q &= Q(**{f"scope_{name}": getattr(self, name)})
        return q

    def bundle_q(self, prefix: str = "") -> Q:
        """The bundle (it never changes for a deployment) on a model reaching ``bundle_version`` through ``prefix``."""
        return Q(**{f"{prefix}bundle_version__bundle__name": self.bundle}) if self.bundle else Q()

    @property
    def scoped(self) -> bool:
        return bool(self.team or self.project or self.tier)


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


def _ever_in_scope(rows: QuerySet, filters: EstateFilters) -> QuerySet:
    """``rows`` of the deployments that had a row in the filters' scope among them (a narrowing that is
    safe before choosing each one's newest row: the newest row is then checked against the scope)."""
    if not filters.scoped:
        return rows
    return rows.filter(id__in=rows.filter(filters.scope_q()).values("id"))


def estate_as_of(when: datetime, filters: EstateFilters = EstateFilters()) -> QuerySet:
    """Historical deployment rows: every deployment as it was at ``when``, filed where it stood then.

    PostgreSQL: the rows whose span (:class:`audit.models.DeploymentSpan`) holds ``when``, filtered and
    sorted on the span's copies of the row's columns, which its SP-GiST index on ``period`` includes: the
    count and the sort read that index, and the history table only by primary key.
    Elsewhere: the newest row at or before ``when`` of each deployment (:func:`_estate_as_of_rows`)."""
    if connection.vendor != "postgresql":
        return _estate_as_of_rows(when, filters)
    spans = _spans_at(DeploymentSpan.objects.all(), "", when, filters)
    rows = _spans_at(HistoricalDeployment.objects.all(), "span__", when, filters)
    rows = rows.select_related("bundle_version", "bundle_version__bundle").order_by(
        *(f"span__{key}" for key in _SPAN_ORDER)
    )
    return _AsOfQuerySet.of(rows, spans.order_by(*_SPAN_ORDER))


_SPAN_ORDER = ("scope_project", "scope_environment", "name", "deployment_id")


def _spans_at(qs: QuerySet, path: str, when: datetime, filters: EstateFilters) -> QuerySet:
    """``qs`` narrowed to the spans (reached through ``path``) that hold ``when`` and pass ``filters``."""
    qs = qs.filter(**{f"{path}gone": False}).extra(
        where=[f'"{DeploymentSpan._meta.db_table}"."period" @> %s::timestamptz'], params=[when]
    )
    for name in ("team", "project", "tier"):
        if getattr(filters, name):
            qs = qs.filter(**{f"{path}scope_{name}": getattr(filters, name)})
    if filters.bundle:
        versions = BundleVersion.objects.filter(bundle__name=filters.bundle).values("pk")
        qs = qs.filter(**{f"{path}bundle_version_id__in": versions})
    if filters.name:
        qs = qs.filter(**{f"{path}name__icontains": filters.name})
    if filters.status:
        qs = qs.filter(**{f"{path}status": filters.status})
    elif not filters.include_destroyed:
        qs = qs.exclude(**{f"{path}status": DeploymentStatus.DESTROYED})
    return qs


class _AsOfQuerySet(QuerySet):
    """The as-of rows, counted and paged on the side table alone: the same spans and filters without the
    join to the history table, which PostgreSQL planned as a scan of the whole history table (for the
    count) or of the whole side table (for a page); alone, both read the SP-GiST index only. A page is
    then its rows by primary key. Once filtered further, sliced or made distinct it is an ordinary
    queryset."""

    _spans: tuple[QuerySet, str] | None = None

    @classmethod
    def of(cls, rows: QuerySet, spans: QuerySet) -> _AsOfQuerySet:
        qs = rows._chain()
        qs.__class__ = cls
        qs._spans = (spans, str(rows.query.where))
        return qs

    def _clone(self):
        clone = super()._clone()
        clone._spans = self._spans
        return clone

    def _as_built(self) -> QuerySet | None:
        """The spans, if this is still the queryset :func:`estate_as_of` built."""
        if self._spans is None or self._result_cache is not None:
            return None
        spans, where = self._spans
        query = self.query
        if query.is_sliced or query.distinct or str(query.where) != where:
            return None
        return spans

    def count(self) -> int:
        spans = self._as_built()
        return spans.count() if spans is not None else super().count()

    def __getitem__(self, k):
        spans = self._as_built()
        if spans is None or not isinstance(k, slice) or k.step is not None:
            return super().__getitem__(k)
        return self._rows(list(spans.values_list("history_id", flat=True)[k]))

    def _rows(self, ids: list[int]) -> QuerySet:
        rows = self._chain()
        rows._spans = None
        return rows.filter(history_id__in=ids)


def _estate_as_of_rows(when: datetime, filters: EstateFilters = EstateFilters()) -> QuerySet:
    """:func:`estate_as_of` from the history table alone: the newest row at or before ``when`` of each
    deployment (SQLite, and the reference the span path is tested against)."""
    rows = HistoricalDeployment.objects.filter(filters.bundle_q(), history_date__lte=when)
    if filters.name:
        rows = rows.filter(name__icontains=filters.name)
    qs = _latest_rows(_ever_in_scope(rows, filters)).filter(filters.scope_q()).exclude(history_type="-")
    if filters.status:
        qs = qs.filter(status=filters.status)
    elif not filters.include_destroyed:
        qs = qs.exclude(status=DeploymentStatus.DESTROYED)
    return qs.select_related("bundle_version", "bundle_version__bundle").order_by(
        "scope_project", "scope_environment", "name", "id"
    )


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
        return f"[{len(value)} item{'' if len(value) == 1 else 's'}]"
    text = value if isinstance(value, str) else json.dumps(value)  # JSON style: true, null, 1.5
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
    kind: str  # added | removed | changed | transient (created and destroyed inside the window)
    environment_id: int
    old_version_id: int | None
    new_version_id: int | None
    old_status: str
    new_status: str
    changes: list[Change] = field(default_factory=list)
    label: str = ""
    tier: str = ""
    team: str = ""
    bundle: str = ""
    old_version: str = ""
    new_version: str = ""
    # Whether a run in the window was applied without approval: read in SQL for every entry (the counts
    # need it), while the runs themselves are read only for the entries shown (``EstateDiff.load_runs``),
    # or for all of them the first time one entry's ``runs`` is read; an export reads every entry's runs with
    # the diff (``estate_diff(runs=True)``), and the flag comes from them.
    has_unapproved_run: bool = False
    loaded_runs: list[RunLine] | None = field(default=None, repr=False)
    # The diff this entry belongs to, weakly (a cycle would leave tens of thousands of objects to the
    # cyclic garbage collector instead of reference counting), and its window: an entry that outlives
    # its diff reads its own runs.
    diff_ref: weakref.ref | None = field(default=None, repr=False, compare=False)
    window: tuple[datetime, datetime] | None = field(default=None, repr=False, compare=False)

    @property
    def runs(self) -> list[RunLine]:
        if self.loaded_runs is None:
            diff = self.diff_ref() if self.diff_ref is not None else None
            if diff is not None:
                diff.load_runs()
            if self.loaded_runs is None and self.window is not None:
                self.loaded_runs = []
                _attach_runs([self], *self.window, [self.deployment_id])
            if self.loaded_runs is None:
                self.loaded_runs = []
        return self.loaded_runs

    @property
    def version_changed(self) -> bool:
        return self.kind == "changed" and self.old_version_id != self.new_version_id

    @property
    def unapproved(self) -> bool:
        if self.loaded_runs is not None:
            return any(run.applied_without_approval for run in self.loaded_runs)
        return self.has_unapproved_run

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


RUNS_BY_ID = 500  # entries whose runs are read by their deployments' ids; more: by the window


@dataclass(slots=True, weakref_slot=True)
class EstateDiff:
    start: datetime
    end: datetime
    entries: list[DiffEntry]
    touched: QuerySet | None = field(default=None, repr=False, compare=False)  # (None: every deployment)

    def load_runs(self, entries: Iterable[DiffEntry] | None = None) -> None:
        """Read the window's runs of ``entries`` (default: every entry) whose runs are not read yet."""
        wanted = [e for e in (self.entries if entries is None else entries) if e.loaded_runs is None]
        if not wanted:
            return
        for entry in wanted:
            entry.loaded_runs = []
        # Many entries: the window's runs of the deployments touched in it (all of them, unfiltered: cheaper than
        # the join, and the entries pick theirs); a few: theirs by id.
        ids = self.touched if len(wanted) > RUNS_BY_ID else [e.deployment_id for e in wanted]
        with _without_gc(), _planner_for_many_probes():
            _attach_runs(wanted, self.start, self.end, ids)

    def counts(self) -> dict[str, int]:
        out = {"added": 0, "removed": 0, "changed": 0, "transient": 0, "keys_changed": 0, "without_approval": 0}
        for entry in self.entries:
            out[entry.kind] += 1
            out["keys_changed"] += len(entry.changes)
            out["without_approval"] += entry.unapproved
        return out


_STATE_FIELDS = (
    "id",
    "history_id",
    "history_type",
    "name",
    "status",
    "params",
    "connections",
    "bundle_version_id",
    "environment_id",
    "scope_team",
    "scope_project",
    "scope_environment",
    "scope_tier",
)


TRANSIENT = "transient"


def _present(row: dict | None) -> bool:
    return row is not None and row["history_type"] != "-" and row["status"] != DeploymentStatus.DESTROYED


def estate_diff(
    start: datetime, end: datetime, filters: EstateFilters = EstateFilters(), *, runs: bool = False
) -> EstateDiff:
    """What was added, removed and changed (params or bundle version) between ``start`` and ``end``.

    Only deployments with a history row inside the window can differ, so both states are read
    for those alone. Changes are net: a key changed and changed back inside the window is no change.
    A deployment is filed where it stood at the end of the window (where it stood before, if it was
    removed); a scope filter keeps those filed there. A deployment absent at both ends that was live (or
    on its way) inside the window is listed too, as ``transient``, with its runs: created and destroyed
    within the window, it is evidence of what ran, not a difference between the two states.

    ``runs``: read every entry's runs now (an export shows them all), which also says which were applied
    without approval; else that is asked of the database alone, and the runs are read for the entries shown.
    """
    window = HistoricalDeployment.objects.filter(filters.bundle_q(), history_date__gt=start, history_date__lte=end)
    if filters.name:
        window = window.filter(name__icontains=filters.name)
    touched = _ever_in_scope(window, filters).order_by().values("id").distinct()

    with _without_gc(), _planner_for_many_probes():
        before, after = _states(touched, start, end)
    # Absent at both ends but present at some moment inside the window (a row neither deleted nor
    # destroyed): asked only about the deployments absent at both ends.
    absent = [dep_id for dep_id, new in after.items() if not _present(new) and not _present(before.get(dep_id))]
    came_and_went = set()
    if absent:
        came_and_went = set(
            window.filter(id__in=absent)
            .exclude(history_type="-")
            .exclude(status=DeploymentStatus.DESTROYED)
            .values_list("id", flat=True)
        )
    with _without_gc():
        entries = _entries(before, after, came_and_went, filters)
    # Unfiltered, every run of the window (the entries pick theirs): cheaper than joining the touched.
    narrowed = touched if filters != EstateFilters() else None
    diff = EstateDiff(start=start, end=end, entries=entries, touched=narrowed)
    if runs:
        diff.load_runs()
    else:
        with _planner_for_many_probes():
            unapproved = _with_unapproved_runs(start, end, narrowed) if entries else set()
        for entry in entries:
            entry.has_unapproved_run = entry.deployment_id in unapproved
    diff_ref = weakref.ref(diff)
    for entry in entries:
        entry.diff_ref, entry.window = diff_ref, (start, end)
    _attach_labels(entries)
    name_producers(entry.changes for entry in entries)
    entries.sort(key=lambda e: (_KIND_ORDER[e.kind], e.label, e.name))
    return diff


_KIND_ORDER = {"added": 0, "changed": 1, "removed": 2, TRANSIENT: 3}


@contextmanager
def _without_gc():
    """No cyclic garbage collection while tens of thousands of small objects are made (none of them
    cyclic): its full passes over the growing heap took a large part of the diff's time on the bench."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _entries(before: dict, after: dict, came_and_went: set, filters: EstateFilters) -> list[DiffEntry]:
    entries: list[DiffEntry] = []
    for dep_id, new in after.items():
        old = before.get(dep_id)
        was, now = _present(old), _present(new)
        transient = not was and not now and dep_id in came_and_went
        where = new if now or transient else old  # where it stood: at the end, or before it was removed
        if (not was and not now and not transient) or not _in_scope(where, filters):
            continue
        if transient:
            kind, changes = TRANSIENT, diff_params({}, new["params"]) + diff_connections({}, new["connections"])
        elif was and now:
            changes = diff_params(old["params"], new["params"])
            changes += diff_connections(old["connections"], new["connections"])
            if not changes and old["bundle_version_id"] == new["bundle_version_id"]:
                continue
            kind = "changed"
        elif now:
            kind, changes = ADDED, diff_params({}, new["params"]) + diff_connections({}, new["connections"])
        else:
            kind, changes = REMOVED, []
        entries.append(
            DiffEntry(
                deployment_id=dep_id,
                name=new["name"],
                kind=kind,
                environment_id=new["environment_id"],
                old_version_id=old["bundle_version_id"] if was else None,
                new_version_id=new["bundle_version_id"] if now or transient else None,
                old_status=old["status"] if old else "",
                new_status=new["status"] if new["history_type"] != "-" else "deleted",
                changes=changes,
                label=f"{where['scope_project']}/{where['scope_environment']}",
                tier=where["scope_tier"],
                team=where["scope_team"],
            )
        )
    return entries


@contextmanager
def _planner_for_many_probes():
    """PostgreSQL, for the diff's two big reads: no JIT (its estimate of tens of thousands of index
    probes made PostgreSQL spend ~300 ms compiling a plan that runs in less) and room to sort the
    window's runs in memory. SET LOCAL ends with the transaction (opened here when none is)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '32MB'")
        yield


def _states(touched: QuerySet, start: datetime, end: datetime) -> tuple[dict[Any, dict], dict[Any, dict]]:
    """Each touched deployment's newest row at or before ``start`` and at or before ``end``.

    PostgreSQL: one query, two index probes per touched deployment along (id, history_date,
    history_id), each reading its row (LATERAL ... LIMIT 1). Asking for the rows by ``history_id IN
    (newest ids)`` instead let the planner guess tens of thousands of ids and scan the whole history
    table (bench/audit_diff.py prints the plan). Elsewhere: a subquery per state."""
    if connection.vendor != "postgresql":
        return _state(touched, start), _state(touched, end)
    sql, params = touched.query.sql_with_params()
    table = HistoricalDeployment._meta.db_table
    columns = ", ".join(f'h."{HistoricalDeployment._meta.get_field(f).column}"' for f in _STATE_FIELDS)
    query = (
        f"SELECT w.at_end, {columns} FROM ({sql}) t "
        "CROSS JOIN LATERAL (VALUES (false, %s::timestamptz), (true, %s::timestamptz)) AS w(at_end, at) "
        f'CROSS JOIN LATERAL (SELECT * FROM "{table}" r WHERE r."id" = t."id" AND r."history_date" <= w.at '
        'ORDER BY r."history_date" DESC, r."history_id" DESC LIMIT 1) h'
    )
    json_fields = {"params", "connections"}
    before: dict[Any, dict] = {}
    after: dict[Any, dict] = {}
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, start, end])
        for at_end, *values in cursor.fetchall():
            row = dict(zip(_STATE_FIELDS, values, strict=True))
            for name in json_fields:
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name])
            (after if at_end else before)[row["id"]] = row
    return before, after


def _state(touched: QuerySet, when: datetime) -> dict[Any, dict]:
    newest = (
        HistoricalDeployment.objects.filter(id=OuterRef("id"), history_date__lte=when)
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )
    latest_ids = touched.annotate(latest=Subquery(newest)).values("latest")
    rows = HistoricalDeployment.objects.filter(history_id__in=latest_ids).order_by()
    return {row[0]: dict(zip(_STATE_FIELDS, row, strict=True)) for row in rows.values_list(*_STATE_FIELDS)}


def _window_runs(start: datetime, end: datetime, deployments: QuerySet | list | None) -> QuerySet:
    runs = Run.objects.filter(created_at__gt=start, created_at__lte=end)
    return runs if deployments is None else runs.filter(deployment_id__in=deployments)


def _with_unapproved_runs(start: datetime, end: datetime, touched: QuerySet | None) -> set:
    """The deployments (among ``touched``, if given) with a run in the window that
    :attr:`RunLine.applied_without_approval` says of."""
    runs = Run.objects.filter(created_at__gt=start, created_at__lte=end)
    if touched is not None:
        runs = runs.filter(deployment_id__in=touched)
    runs = runs.filter(approval_basis="", status=RunStatus.SUCCEEDED, action__in=(RunAction.APPLY, RunAction.DESTROY))
    return set(runs.order_by().values_list("deployment_id", flat=True).distinct())


def _attach_runs(entries: list[DiffEntry], start: datetime, end: datetime, deployments: QuerySet | list | None) -> None:
    # Tens of thousands of rows, read raw (one fetch, not the ORM's chunks of 100): each run's deployment as
    # the database writes its key in text (PostgreSQL's dashed form, SQLite's stored hex), not parsed into a
    # UUID per run; its timestamp as text, parsed by datetime.fromisoformat, many times faster than the driver.
    key = Run._meta.get_field("deployment").target_field
    by_id = {str(key.get_db_prep_value(entry.deployment_id, connection)): entry for entry in entries}
    if not by_id:
        return
    runs = _window_runs(start, end, deployments).annotate(
        deployment_text=Cast("deployment_id", TextField()), created_text=Cast("created_at", TextField())
    )
    fields = ("id", "action", "status", "requested_by_name", "channel", "reason", "approval_basis")
    sql, params = (
        runs.order_by("created_at", "id")
        .values_list("deployment_text", *fields, "created_text")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    for deployment_id, *values, created_text in found:
        entry = by_id.get(deployment_id)
        if entry is not None:
            entry.loaded_runs.append(RunLine(*values, created_at=_timestamp(created_text)))


def _timestamp(text: str) -> datetime:
    """A timestamp as the database prints it (PostgreSQL ``+00``, or SQLite's naive UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _in_scope(row: dict, filters: EstateFilters) -> bool:
    return all(
        not getattr(filters, name) or row[f"scope_{name}"] == getattr(filters, name)
        for name in ("team", "project", "tier")
    )


def _attach_labels(entries: list[DiffEntry]) -> None:
    """Bundle versions by name (where and whose come from the rows' scope columns)."""
    version_ids = {v for e in entries for v in (e.old_version_id, e.new_version_id) if v}
    versions = {v.pk: v for v in BundleVersion.objects.filter(pk__in=version_ids).select_related("bundle")}
    for entry in entries:
        old, new = versions.get(entry.old_version_id), versions.get(entry.new_version_id)
        entry.old_version = str(old) if old else ""
        entry.new_version = str(new) if new else ""
        entry.bundle = (new or old).bundle.name if (new or old) else ""
