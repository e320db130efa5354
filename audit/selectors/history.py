"""One deployment's history, and one change to the rest of the tracked configuration, each version with
what changed since the one before."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet

from deployments.choices import DeploymentStatus
from deployments.models import Deployment, Run
from portal.history import ChangeReason, change_of

from ..diff import ADDED, CHANGED, Change, diff_connections, diff_params
from ..models import AuditEvent
from .producers import name_producers
from .timeline import CONFIG_BY_KEY, ConfigModel

_RUN_IN_NOTE = re.compile(r"run #(\d+)")


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
        return step_kind(self.row, self.previous, bool(self.changes))

    @property
    def version_changed(self) -> bool:
        return self.previous is not None and self.previous.bundle_version_id != self.row.bundle_version_id

    @property
    def actor(self) -> str:
        return self.reason.actor or "system"

    @property
    def approval_basis(self) -> str:
        return self.reason.basis or (self.run.approval_basis if self.run else "")

    @property
    def restorable(self) -> bool:
        return self.row.history_type != "-" and bool(self.row.params)


def step_kind(row, previous, changed: bool) -> str:
    """What a version is (created, configuration, status, deleted, other), from its row, the row before it and
    whether its params or connections changed."""
    if row.history_type == "+":
        return "created"
    if row.history_type == "-":
        return "deleted"
    if changed or (previous is not None and previous.bundle_version_id != row.bundle_version_id):
        return "configuration"
    if previous is not None and previous.status != row.status:
        return "status"
    return "other"


def _changes(previous, row) -> list[Change]:
    changes = diff_params(previous.params if previous is not None else {}, row.params)
    return changes + diff_connections(previous.connections if previous is not None else {}, row.connections)


@dataclass(slots=True, frozen=True)
class Version:
    """One version of a deployment, read light: its history row's id, the id of the one before it, its kind."""

    history_id: int
    previous_id: int | None
    kind: str


def history_index(deployment: Deployment) -> list[Version]:
    """Every version of ``deployment``, newest first, with its kind: one query of the few columns the kind needs
    (no related rows, no runs), so that a page can pick the versions it shows and read only those in full.
    Kept on the deployment for the rest of the request (the deployment page asks twice)."""
    cached = getattr(deployment, "_history_index", None)
    if cached is not None:
        return cached
    rows = deployment.history.order_by("history_date", "history_id").values_list(
        "history_id", "history_type", "params", "connections", "bundle_version_id", "status", named=True
    )
    versions, previous = [], None
    for row in rows:
        kind = step_kind(row, previous, bool(_changes(previous, row)))
        versions.append(Version(row.history_id, previous.history_id if previous is not None else None, kind))
        previous = row
    versions.reverse()
    deployment._history_index = versions
    return versions


def deployment_history(deployment: Deployment, versions: list[Version] | None = None) -> list[HistoryStep]:
    """Every version of ``deployment`` (or only ``versions``, from :func:`history_index`), newest first, each with
    its diff and the run it caused. Only the runs that can be those versions' are read."""
    related = ("history_user", "bundle_version", "bundle_version__bundle")
    if versions is None:
        rows = list(deployment.history.select_related(*related).order_by("history_date", "history_id"))
        pairs = list(zip(rows, [None, *rows[:-1]], strict=True))
    else:
        wanted = {v.history_id for v in versions} | {v.previous_id for v in versions if v.previous_id is not None}
        rows = deployment.history.select_related(*related).filter(history_id__in=wanted)
        by_id = {row.history_id: row for row in rows}
        pairs = [(by_id[v.history_id], by_id.get(v.previous_id)) for v in reversed(versions) if v.history_id in by_id]
    steps = [
        HistoryStep(row=row, previous=previous, reason=change_of(row), changes=_changes(previous, row))
        for row, previous in pairs
    ]
    run_by_request = _runs_by_request(deployment, steps if versions is not None else None)
    runs = _Runs(_runs_for(deployment, steps, run_by_request, every=versions is None))
    runs_by_id = {run.pk: run for run in runs}
    for step in steps:
        step.run = _run_for_step(step, runs, runs_by_id, run_by_request)
    name_producers(step.changes for step in steps)
    return steps[::-1]


_NEAR = timedelta(seconds=5)


class _Runs(list):
    """A deployment's runs in created_at order, with their times kept for bisecting."""

    def __init__(self, runs):
        super().__init__(runs)
        self.times = [r.created_at for r in self]


def _runs_by_request(deployment: Deployment, steps: list[HistoryStep] | None = None) -> dict[str, int]:
    """The run each request asked for; with ``steps``, only the requests those steps' reasons name (by the
    prefix they keep), in the same order, so that the first match is the same as among them all."""
    events = AuditEvent.objects.filter(deployment_id=deployment.pk, event_type="run.requested").exclude(request_id="")
    if steps is not None:
        prefixes = {step.reason.request_id for step in steps if step.reason.request_id}
        if not prefixes:
            return {}
        match = Q()
        for prefix in prefixes:
            match |= Q(request_id__startswith=prefix)
        events = events.filter(match)
    return {e.request_id: e.data.get("run") for e in events.only("request_id", "data")}


def _runs_for(deployment: Deployment, steps: list[HistoryStep], run_by_request: dict, *, every: bool) -> QuerySet:
    """The deployment's runs in created_at order: all of them, or (for a few steps) only those a step can name:
    by the run # in its note, by its request, or created within 5 s of it, in one query."""
    runs = deployment.runs.order_by("created_at", "id")
    if every:
        return runs
    ids = {int(m.group(1)) for step in steps for m in [_RUN_IN_NOTE.search(step.reason.note)] if m}
    ids |= {run_id for run_id in run_by_request.values() if isinstance(run_id, int)}
    match = Q(pk__in=ids) if ids else Q()
    for step in steps:
        when = step.row.history_date
        match |= Q(created_at__gte=when - _NEAR, created_at__lte=when + _NEAR)
    return runs.filter(match) if match else runs.none()


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
    # ``runs`` are in created_at order: look only at those within 5 s (a deployment may have thousands of
    # runs and hundreds of versions), in the same order as before so ties go the same way.
    times = [r.created_at for r in runs] if not isinstance(runs, _Runs) else runs.times
    window = runs[bisect_left(times, when - _NEAR) : bisect_right(times, when + _NEAR)]
    near = [r for r in window if abs((r.created_at - when).total_seconds()) < 5]
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
        return self.reason.actor or "system"

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
        if f.name.startswith(("history_", "scope_")) or f.name == "id":
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
    return ConfigChange(config, row, previous, change_of(row), changes, label)


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
