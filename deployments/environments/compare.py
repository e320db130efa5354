"""Two environments side by side: deployments matched by name, and for each pair the bundle version, every
param and every connection that differs; what exists in only one.

Params are compared as stored, so a secret is compared by its mask (the same value always has the same
mask, ``secrets.fingerprint``) and is never shown: the answer only says that it differs. Connections are
compared by the producer's name, since the producers of two environments are different deployments.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from jsonpointer import resolve_pointer

from bundles.display import absent_value, params_rows

from ..choices import DeploymentStatus
from ..models import Deployment, Environment

_MISSING = object()
ABSENT = "(not set)"
SECRET = "(sensitive)"


@dataclass
class ValueDiff:
    pointer: str
    label: str
    a: str
    b: str
    sensitive: bool = False


@dataclass
class ConnectionDiff:
    name: str
    a: str
    b: str


@dataclass
class PairDiff:
    """One deployment name present in both environments."""

    name: str
    a: Deployment
    b: Deployment
    params: list[ValueDiff] = field(default_factory=list)
    connections: list[ConnectionDiff] = field(default_factory=list)

    @property
    def version_differs(self) -> bool:
        return self.a.bundle_version_id != self.b.bundle_version_id

    @property
    def same(self) -> bool:
        return not (self.version_differs or self.params or self.connections)


@dataclass
class EnvironmentDiff:
    a: Environment
    b: Environment
    pairs: list[PairDiff]
    only_a: list[Deployment]
    only_b: list[Deployment]

    @property
    def differing(self) -> list[PairDiff]:
        return [p for p in self.pairs if not p.same]

    @property
    def same(self) -> bool:
        return not (self.differing or self.only_a or self.only_b)


def _deployments(environment: Environment) -> dict[str, Deployment]:
    rows = (
        Deployment.objects.filter(environment=environment)
        .exclude(status=DeploymentStatus.DESTROYED)
        .select_related("bundle_version__bundle")
        .order_by("name")
    )
    return {d.name.lower(): d for d in rows}


def environment_diff(a: Environment, b: Environment) -> EnvironmentDiff:
    """What differs between environments ``a`` and ``b`` (destroyed deployments count as absent)."""
    left, right = _deployments(a), _deployments(b)
    producer_names = dict(Deployment.objects.filter(environment__in=(a, b)).values_list("pk", "name").iterator())
    pairs = []
    for key in sorted(set(left) & set(right)):
        pair = PairDiff(left[key].name, left[key], right[key])
        pair.params = param_differences(left[key], right[key])
        pair.connections = connection_differences(left[key], right[key], producer_names)
        pairs.append(pair)
    return EnvironmentDiff(
        a,
        b,
        pairs,
        [left[k] for k in sorted(set(left) - set(right))],
        [right[k] for k in sorted(set(right) - set(left))],
    )


def _value(params: dict, where: str) -> Any:
    return resolve_pointer(params, where, _MISSING)


def param_differences(a: Deployment, b: Deployment) -> list[ValueDiff]:
    """Every value that differs, labelled as each side's form labels it, secrets never shown."""
    rows_a = {r.pointer: r for r in params_rows(a.bundle_version.params_schema, a.params)}
    rows_b = {r.pointer: r for r in params_rows(b.bundle_version.params_schema, b.params)}
    found = []
    for where in [*rows_a, *(p for p in rows_b if p not in rows_a)]:
        if _value(a.params, where) == _value(b.params, where):
            continue
        row_a, row_b = rows_a.get(where), rows_b.get(where)
        sensitive = bool((row_a and row_a.sensitive) or (row_b and row_b.sensitive))
        found.append(
            ValueDiff(
                pointer=where,
                label=(row_a or row_b).label,
                a=(SECRET if sensitive else row_a.value)
                if row_a
                else absent_value(a.bundle_version.params_schema, where),
                b=(SECRET if sensitive else row_b.value)
                if row_b
                else absent_value(b.bundle_version.params_schema, where),
                sensitive=sensitive,
            )
        )
    return found


def connection_differences(a: Deployment, b: Deployment, producer_names: dict) -> list[ConnectionDiff]:
    """Each connection whose producer has a different name on each side (or is connected on one side only)."""
    declared = [c["name"] for c in a.bundle_version.connections]
    declared += [c["name"] for c in b.bundle_version.connections if c["name"] not in declared]
    found = []
    for name in declared:
        left = producer_names.get(_uuid((a.connections or {}).get(name)), "") or ABSENT
        right = producer_names.get(_uuid((b.connections or {}).get(name)), "") or ABSENT
        if left != right:
            found.append(ConnectionDiff(name, left, right))
    return found


def _uuid(value):
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def as_data(diff: EnvironmentDiff) -> dict:
    """The diff as JSON (the API's answer and ``slipway env diff --json``)."""

    def side(d: Deployment) -> dict:
        return {
            "id": str(d.pk),
            "bundle": d.bundle_version.bundle.name,
            "version": d.bundle_version.version,
            "status": d.status,
        }

    def only(d: Deployment) -> dict:
        return {"name": d.name, **side(d)}

    return {
        "a": str(diff.a),
        "b": str(diff.b),
        "same": diff.same,
        "only_in_a": [only(d) for d in diff.only_a],
        "only_in_b": [only(d) for d in diff.only_b],
        "deployments": [
            {
                "name": p.name,
                "same": p.same,
                "a": side(p.a),
                "b": side(p.b),
                "version_differs": p.version_differs,
                "params": [
                    {"pointer": v.pointer, "label": v.label, "a": v.a, "b": v.b, "sensitive": v.sensitive}
                    for v in p.params
                ],
                "connections": [{"name": c.name, "a": c.a, "b": c.b} for c in p.connections],
            }
            for p in diff.pairs
        ],
    }
