"""One deployment's history, and one change to the rest of the tracked configuration, each version with
what changed since the one before."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q

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
        return self.reason.actor or "system"

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
    runs = _Runs(deployment.runs.order_by("created_at", "id"))
    runs_by_id = {run.pk: run for run in runs}
    run_by_request = _runs_by_request(deployment)
    steps: list[HistoryStep] = []
    previous = None
    for row in rows:
        reason = change_of(row)
        changes = diff_params(previous.params if previous is not None else {}, row.params)
        changes += diff_connections(previous.connections if previous is not None else {}, row.connections)
        step = HistoryStep(row=row, previous=previous, reason=reason, changes=changes)
        step.run = _run_for_step(step, runs, runs_by_id, run_by_request)
        steps.append(step)
        previous = row
    name_producers(step.changes for step in steps)
    return steps[::-1]


_NEAR = timedelta(seconds=5)


class _Runs(list):
    """A deployment's runs in created_at order, with their times kept for bisecting."""

    def __init__(self, runs):
        super().__init__(runs)
        self.times = [r.created_at for r in self]


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
