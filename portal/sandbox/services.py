"""Writes to the sandbox's store: create, modify and delete resources.

One code path for each, whoever calls: the HTTP API (the provider, a script) and the console (a
person clicking) both come here. Each operation takes the kind's simulated time, scaled by
``SLIPWAY_SANDBOX_DELAY_SCALE``: the resource is ``creating``/``modifying``/``deleting`` until
then, as in a real cloud.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import alarms
from .errors import Conflict, Invalid, NotFound
from .kinds import Kind
from .models import Event, Resource, Status
from .selectors import settle
from .validation import check_attributes, check_name, check_tags, kind_named

# How the activity log shows a write-only value: never the value, only that it was set or changed.
SECRET_SET, SECRET_MARK = "(set)", "(changed)"


@dataclass
class Created:
    resource: Resource
    # Write-only values the cloud generated, returned once (in the create response) and never again.
    secrets: dict[str, str] = field(default_factory=dict)


def _delay(seconds: float) -> timedelta:
    scale = float(getattr(settings, "SLIPWAY_SANDBOX_DELAY_SCALE", 1.0))
    return timedelta(seconds=max(0.0, seconds * scale))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _split_secrets(kind: Kind, attributes: dict) -> tuple[dict, dict]:
    """(plain attributes, write-only values): secrets never reach the attributes column."""
    hidden = {f.name for f in kind.fields if f.write_only}
    return (
        {k: v for k, v in attributes.items() if k not in hidden},
        {k: v for k, v in attributes.items() if k in hidden and v is not None},
    )


def _pending(resource: Resource, status: str, seconds: float, now) -> None:
    delay = _delay(seconds)
    if delay:
        resource.status, resource.ready_at = status, now + delay
    else:
        resource.status, resource.ready_at = Status.AVAILABLE, None


def _record(resource: Resource, action: str, actor: str, changes: dict, now) -> None:
    """The activity log line for one change (the console and the API show these)."""
    Event.objects.create(
        resource_id=resource.id,
        kind=resource.kind,
        name=resource.name,
        action=action,
        actor=actor[:200],
        changes=changes,
        created_at=now,
    )


@transaction.atomic
def resource_create(*, kind: str, name: str, attributes: dict | None, tags: dict | None, actor: str) -> Created:
    """Create a resource; it is ``creating`` for the kind's create time, then ``available``.

    Refuses an unknown kind, an invalid name or attributes (Invalid), and a name already taken by a
    resource of the same kind (Conflict). Write-only values left out are generated.
    """
    spec = kind_named(kind)
    name = check_name(name)
    values = check_attributes(spec, attributes, partial=False)
    tags = check_tags(tags)
    plain, secret_values = _split_secrets(spec, values)
    generated = {}
    for f in spec.fields:
        if f.write_only and not f.kept and f.name not in secret_values:
            generated[f.name] = secrets.token_urlsafe(24)
    secret_values |= generated
    settle()
    if Resource.objects.filter(kind=spec.name, name=name).exists():
        raise Conflict(f"A {spec.title.lower()} named {name!r} already exists.", {"/name": ["Already taken."]})
    now = timezone.now()
    resource_id = f"{spec.id_prefix}-{secrets.token_hex(8)}"
    resource = Resource(
        id=resource_id,
        kind=spec.name,
        name=name,
        attributes=spec.defaults() | plain,
        computed=spec.computed_values(resource_id=resource_id, name=name),
        secret_digests={k: _digest(v) for k, v in secret_values.items()},
        sealed={k: v for k, v in secret_values.items() if spec.field(k).kept},
        tags=tags,
        created_at=now,
        updated_at=now,
    )
    _pending(resource, Status.CREATING, spec.create_seconds, now)
    try:
        with transaction.atomic():
            resource.save(force_insert=True)
    except IntegrityError as exc:  # the same name, created concurrently
        raise Conflict(f"A {spec.title.lower()} named {name!r} already exists.", {"/name": ["Already taken."]}) from exc
    alarms.after_change(resource)
    _record(
        resource,
        Event.Action.CREATE,
        actor,
        {k: [None, v] for k, v in resource.attributes.items() if v is not None}
        | {k: [None, SECRET_SET] for k in secret_values},
        now,
    )
    return Created(resource=resource, secrets=generated)


def _locked(resource_id: str) -> Resource:
    settle()
    resource = Resource.objects.select_for_update().filter(pk=resource_id).first()
    if resource is None or resource.status == Status.DELETING:
        raise NotFound(f"No resource {resource_id!r}: it does not exist or was deleted.")
    return resource


@transaction.atomic
def resource_update(
    *,
    resource_id: str,
    attributes: dict | None = None,
    tags: dict | None = None,
    actor: str,
    expected_version: int | None = None,
) -> Resource:
    """Change attributes and/or tags in place; the resource is ``modifying`` for the kind's update time.

    Only the attributes given change. Refuses attributes that cannot change in place (they need a new
    resource), a resource that is still being created or modified, and a stale ``expected_version``.
    A request that changes nothing changes nothing (no new version, no wait).
    """
    resource = _locked(resource_id)
    spec = resource.spec
    values = check_attributes(spec, attributes, partial=True)
    new_tags = check_tags(tags) if tags is not None else None
    if expected_version is not None and expected_version != resource.version:
        raise Conflict(
            f"{resource.name} was changed by someone else meanwhile (version {resource.version}, not "
            f"{expected_version}): reload it and try again."
        )
    plain, secret_values = _split_secrets(spec, values)
    changes: dict[str, Any] = {}
    fixed = {}
    for key, value in plain.items():
        before = resource.attributes.get(key)
        if value == before:
            continue
        if spec.field(key).replace:
            fixed[f"/attributes/{key}"] = ["Cannot be changed in place: create a new resource with the new value."]
        changes[key] = [before, value]
    if fixed:
        raise Invalid(f"Some attributes of {resource.name} cannot be changed in place.", fixed)
    digests = {k: _digest(v) for k, v in secret_values.items()}
    changed_secrets = {k: d for k, d in digests.items() if resource.secret_digests.get(k) != d}
    changes |= {k: [SECRET_MARK, SECRET_MARK] for k in changed_secrets}
    if new_tags is not None and new_tags != resource.tags:
        changes["tags"] = [resource.tags, new_tags]
    if not changes:
        return resource
    if resource.is_busy:
        raise Conflict(
            f"{resource.name} is {resource.status}: wait until it is available "
            f"(about {resource.ready_in_seconds():.0f} s) and try again."
        )
    now = timezone.now()
    resource.attributes = resource.attributes | plain
    resource.secret_digests = resource.secret_digests | changed_secrets
    resource.sealed = resource.sealed | {k: secret_values[k] for k in changed_secrets if spec.field(k).kept}
    if new_tags is not None:
        resource.tags = new_tags
    resource.version += 1
    resource.updated_at = now
    _pending(resource, Status.MODIFYING, spec.update_seconds, now)
    resource.save()
    alarms.after_change(resource)
    _record(resource, Event.Action.UPDATE, actor, changes, now)
    return resource


@transaction.atomic
def resource_delete(*, resource_id: str, actor: str) -> Resource | None:
    """Delete a resource: it is ``deleting`` for the kind's delete time, then gone.

    Returns the resource while it is being deleted, None once it is gone. Deleting twice is fine.
    """
    settle()
    resource = Resource.objects.select_for_update().filter(pk=resource_id).first()
    if resource is None:
        raise NotFound(f"No resource {resource_id!r}: it does not exist or was deleted.")
    if resource.status == Status.DELETING:
        return resource
    now = timezone.now()
    _record(resource, Event.Action.DELETE, actor, {}, now)
    alarms.before_delete(resource)
    delay = _delay(resource.spec.delete_seconds)
    if not delay:
        resource.delete()
        return None
    resource.status, resource.ready_at, resource.updated_at = Status.DELETING, now + delay, now
    resource.version += 1
    resource.save(update_fields=["status", "ready_at", "updated_at", "version"])
    return resource


MAX_METRIC = 10**12


@transaction.atomic
def metrics_set(*, resource_id: str, metrics: Any, actor: str) -> Resource:
    """Set a resource's simulated utilisation (some or all of its kind's metrics; null clears one), then evaluate
    the alarms that watch it: one firing or resolving sends its webhook once the change is committed."""
    resource = _locked(resource_id)
    spec = resource.spec
    if not isinstance(metrics, dict) or not metrics:
        raise Invalid("metrics must be an object of metric names and numbers.", {"/metrics": ["Must be an object."]})
    errors = {}
    for name, value in metrics.items():
        if name not in spec.metrics:
            known = ", ".join(spec.metrics) or "none"
            errors[f"/metrics/{name}"] = [f"{spec.title}s have no metric {name!r} (they have: {known})."]
        elif value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_METRIC
        ):
            errors[f"/metrics/{name}"] = [f"Must be a number from 0 to {MAX_METRIC}, or null to clear it."]
    if errors:
        raise Invalid("The metrics are not valid.", errors)
    before = dict(resource.metrics)
    after = {k: v for k, v in (before | metrics).items() if v is not None}
    if after == before:
        return resource
    now = timezone.now()
    resource.metrics = after
    resource.save(update_fields=["metrics"])
    _record(
        resource,
        Event.Action.UPDATE,
        actor,
        {
            f"metrics.{k}": [before.get(k), after.get(k)]
            for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)
        },
        now,
    )
    alarms.evaluate_watching(resource.id, now=now)
    return resource
