"""Reads for drift: what the deployment page's *Live* view shows, and a deployment's checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from bundles.schema import human_value

from ..models import Deployment
from ..runs.plans import MASK
from ..selectors import can_change_deployment
from .check import DELETED
from .models import DRIFT_PENDING, DriftCheck, DriftStatus
from .observed import Acceptable, acceptable, observed_sources


def shown(value: Any) -> str:
    """An observed value as people read it: JSON's style (true, null, [..]) for everything but plain strings."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


@dataclass
class LiveRow:
    attribute: str
    value: str
    configured: str = ""  # the value in state (what Slipway applied) when the cloud differs
    drifted: bool = False
    param: str = ""  # the param this attribute is observed for (x-observed-from), with its configured value


@dataclass
class LiveResource:
    address: str
    type: str
    name: str
    id: str
    deleted: bool = False
    words: str = ""
    rows: list[LiveRow] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return self.deleted or any(r.drifted for r in self.rows)


@dataclass
class LiveView:
    check: DriftCheck | None  # the latest check with a result (in sync or drifted)
    pending: DriftCheck | None
    last: DriftCheck | None  # the latest finished check of any outcome (an error, a skip)
    resources: list[LiveResource]
    recent: list[DriftCheck]


RECENT_CHECKS = 10  # the checks the Live tab lists


def deployment_checks(deployment: Deployment) -> QuerySet[DriftCheck]:
    return deployment.drift_checks.order_by("-created_at", "-id")


def live_view(deployment: Deployment) -> LiveView:
    """What the last refresh read, resource by resource, each attribute beside the value Slipway applied
    where they differ, and the param it is observed for (so people see the configuration it belongs to)."""
    checks = deployment_checks(deployment)
    recent = list(checks[:RECENT_CHECKS])

    def newest(statuses, *, other=False) -> DriftCheck | None:
        """The newest check in (or, ``other``, not in) ``statuses``: from the recent ones when one is there or
        they are all the checks there are, else asked of the database."""
        found = next((c for c in recent if (c.status in statuses) != other), None)
        if found is not None or len(recent) < RECENT_CHECKS:
            return found
        return (checks.exclude(status__in=statuses) if other else checks.filter(status__in=statuses)).first()

    check = newest((DriftStatus.IN_SYNC, DriftStatus.DRIFTED))
    pending = newest(DRIFT_PENDING)
    last = newest(DRIFT_PENDING, other=True)
    resources: list[LiveResource] = []
    if check is not None:
        schema = deployment.bundle_version.params_schema
        params = deployment.params
        sources = {s.source: s for s in observed_sources(schema)}
        drift = {r["address"]: r for r in check.resources}
        for item in check.observed:
            changes = {c["path"]: c for c in (drift.get(item["address"]) or {}).get("changes") or []}
            rows = []
            for name, value in sorted(item["attributes"].items()):
                change = changes.get(name)
                source = sources.get(f"{item['address']}.{name}")
                param = ""
                if source is not None:
                    sub = _subschema(schema, source.path)
                    param = f"{source.title}: {human_value(sub, _get(params, source.path))}"
                rows.append(
                    LiveRow(
                        attribute=name,
                        value=shown(value),
                        configured=shown(change["before"]) if change else "",
                        drifted=change is not None,
                        param=param,
                    )
                )
            resources.append(
                LiveResource(
                    address=item["address"],
                    type=item["type"],
                    name=item["name"],
                    id=str(item.get("id") or ""),
                    words=(drift.get(item["address"]) or {}).get("words", ""),
                    rows=rows,
                )
            )
        for gone in (r for r in check.resources if r["action"] == DELETED):
            resources.insert(
                0,
                LiveResource(
                    address=gone["address"],
                    type=gone["type"],
                    name=gone["name"],
                    id="",
                    deleted=True,
                    words=gone["words"],
                ),
            )
    return LiveView(check=check, pending=pending, last=last, resources=resources, recent=recent)


def _subschema(schema: dict, path: tuple[str, ...]) -> dict:
    for part in path:
        schema = ((schema or {}).get("properties") or {}).get(part) or {}
    return schema


def _get(params: dict, path: tuple[str, ...]) -> Any:
    value: Any = params
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def drift_acceptable(check: DriftCheck) -> list[Acceptable]:
    """What *Accept* would change: the drifted attributes a param maps from (``x-observed-from``)."""
    deployment = check.deployment
    return acceptable(deployment.bundle_version.params_schema, check.resources, deployment.full_params(), mask=MASK)


def live_context(user, deployment: Deployment) -> dict:
    """The template context of the *Live* fragment (``deployments/_live.html``)."""
    view = live_view(deployment)
    drifted = view.check is not None and view.check.status == DriftStatus.DRIFTED and not view.check.resolution
    return {
        "deployment": deployment,
        "live": view,
        "can_change": can_change_deployment(user, deployment),
        "acceptable": drift_acceptable(view.check) if drifted else [],
    }
