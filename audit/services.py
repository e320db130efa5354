"""The one way to record an audit event, and the restore use case."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from bundles.display import params_rows
from bundles.schema import param_errors
from deployments.connections.options import option_errors
from deployments.connections.services import connections_resolve
from deployments.models import Deployment
from deployments.services import deployment_update, immutable_errors
from portal.actor import actor_name, actor_user
from portal.context import current_channel, current_request_id
from portal.errors import ParamsInvalid, ServiceError
from portal.history import scope_of

from .models import AuditEvent, Channel


def audit_event_record(
    *,
    event_type: str,
    actor=None,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    channel: str | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Write one audit event. Call it inside the service's transaction so both land or neither.

    ``channel`` and ``request_id`` default to those of the current request (``system`` and none
    outside a request, e.g. in the worker). The actor's name is stored as text, and the target's
    scope (team, project, environment, tier) as it is now.
    """
    return AuditEvent.objects.create(
        event_type=event_type,
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        deployment_id=target.pk if isinstance(target, Deployment) else None,
        data=data or {},
        channel=channel or current_channel() or Channel.SYSTEM,
        request_id=current_request_id() if request_id is None else request_id,
        **(scope_of(target).columns() if target is not None else {}),
    )


def restorable_entry(*, deployment, history_id: int):
    """The history entry of ``deployment`` that can be restored, or a ServiceError saying why not."""
    entry = deployment.history.filter(history_id=history_id).first()
    if entry is None:
        raise ServiceError(f"History entry #{history_id} does not belong to {deployment.name}.")
    if entry.bundle_version_id != deployment.bundle_version_id:
        raise ServiceError(
            f"Entry #{history_id} used bundle version {entry.bundle_version}, but {deployment.name} now runs "
            f"{deployment.bundle_version}; restoring its params onto another version is not supported."
        )
    return entry


def restore_preview(*, deployment, history_id: int) -> dict:
    """What restoring an entry would change, before anything runs: one row per value that differs (now,
    after), and the problems that would refuse it (invalid for the bundle, a value the module cannot
    change or reduce), in the words submit would use."""
    entry = restorable_entry(deployment=deployment, history_id=history_id)
    schema = deployment.bundle_version.params_schema
    now = {row.pointer: row for row in params_rows(schema, deployment.params)}
    then = {row.pointer: row for row in params_rows(schema, entry.params)}
    rows = [
        {
            "label": (then.get(ptr) or now.get(ptr)).label,
            "now": now[ptr].value if ptr in now else "—",
            "after": then[ptr].value if ptr in then else "—",
        }
        for ptr in [*now, *(p for p in then if p not in now)]
        if (now[ptr].value if ptr in now else None) != (then[ptr].value if ptr in then else None)
    ]
    problems = param_errors(schema, entry.params)
    for where, messages in immutable_errors(deployment=deployment, params=entry.params).items():
        problems[where] = [*problems.get(where, []), *messages]
    for where, messages in _restore_option_errors(deployment, entry).items():
        problems[where] = [*problems.get(where, []), *messages]
    labels = {**now, **then}
    connection_rows, connection_problems = _restore_connections_preview(deployment, entry)
    return {
        "entry": entry,
        "rows": rows + connection_rows,
        "problems": [
            {"label": labels[ptr].label if ptr in labels else (ptr or "The configuration"), "messages": m}
            for ptr, m in problems.items()
        ]
        + connection_problems,
    }


def restored_connections(deployment, entry) -> dict[str, str]:
    """The producer of each of the deployment's connections as the entry had it; one the entry did not have is
    disconnected (``""``), so a restore brings back the wiring as well as the params."""
    held = entry.connections or {}
    return {c["name"]: held.get(c["name"], "") for c in deployment.bundle_version.connections}


def _restore_option_errors(deployment, entry) -> dict[str, list[str]]:
    """The entry's ``x-options-from`` values that the producers it would be connected to do not offer now (a
    connection that cannot be made is said by the connections' own preview)."""
    try:
        wired = connections_resolve(
            environment=deployment.environment,
            bundle_version=deployment.bundle_version,
            requested=restored_connections(deployment, entry),
            deployment=deployment,
        )
    except ParamsInvalid:
        return {}
    return option_errors(
        environment=deployment.environment, version=deployment.bundle_version, params=entry.params, wiring=wired
    )


def _restore_connections_preview(deployment, entry) -> tuple[list[dict], list[dict]]:
    """(a row per connection the restore rewires, the problems that would refuse it, in submit's words)."""
    declared = deployment.bundle_version.connections
    if not declared:
        return [], []
    wanted = restored_connections(deployment, entry)
    current = deployment.connections or {}
    ids = {v for v in [*wanted.values(), *current.values()] if v}
    names = {str(pk): name for pk, name in Deployment.objects.filter(pk__in=ids).values_list("pk", "name")}
    rows = [
        {
            "label": f"{c.get('title') or c['name']} (connection)",
            "now": names.get(current.get(c["name"], ""), current.get(c["name"])) or "not connected",
            "after": names.get(wanted[c["name"]], wanted[c["name"]]) or "not connected",
        }
        for c in declared
        if (current.get(c["name"]) or "") != wanted[c["name"]]
    ]
    try:
        connections_resolve(
            environment=deployment.environment,
            bundle_version=deployment.bundle_version,
            requested=wanted,
            deployment=deployment,
        )
    except ParamsInvalid as exc:
        titles = {f"/connections/{c['name']}": c.get("title") or c["name"] for c in declared}
        return rows, [{"label": titles.get(ptr, ptr), "messages": m} for ptr, m in exc.errors.items()]
    return rows, []


@transaction.atomic
def deployment_restore(*, deployment, history_id: int, actor, reason: str = "", auto_apply: bool = True):
    """Queue a run that brings ``deployment`` back to its params and connections as of one of its history entries.

    It is an ordinary change through ``deployment_update`` (same validation, same policy path,
    same run), recorded with channel ``restore`` and an event naming the entry restored. Secrets
    masked in the entry are the ones Slipway still holds (the deployment's, or a past run's).
    """
    entry = restorable_entry(deployment=deployment, history_id=history_id)
    when = f"{entry.history_date:%Y-%m-%d %H:%M:%S} UTC"
    note = reason or f"restore configuration as of {when} (entry #{history_id})"
    run = deployment_update(
        deployment=deployment,
        params=entry.params,
        connections=restored_connections(deployment, entry),
        actor=actor,
        channel=Channel.RESTORE,
        reason=note,
        auto_apply=auto_apply,
    )
    audit_event_record(
        event_type="deployment.restored",
        actor=actor,
        target=deployment,
        channel=Channel.RESTORE,
        data={"run": run.pk, "history_id": history_id, "as_of": entry.history_date.isoformat(), "reason": note},
    )
    return run
