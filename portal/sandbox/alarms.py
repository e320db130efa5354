"""The sandbox's alarms: evaluate each ``alarm`` resource against the metric it watches and notify its webhook.

An alarm is ``ok``, ``pending`` (the condition holds, not yet for its duration) or ``firing``. It is evaluated
when the metric it watches is set, when the alarm is created or changed, and on every read of the cloud
(``selectors.settle``: pending alarms whose duration has passed fire then), so nothing runs in the background.
Durations are multiplied by ``SLIPWAY_SANDBOX_DELAY_SCALE``, like the cloud's operation times (``0``: at once).

Firing and resolving each send one notification in Prometheus Alertmanager's webhook format (version 4),
the format Alertmanager's ``webhook_configs`` POSTs: ``{version, groupKey, status, receiver, groupLabels,
commonLabels, commonAnnotations, externalURL, alerts: [{status, labels, annotations, startsAt, endsAt,
generatorURL, fingerprint}]}``. A ``user:password@`` in the URL is sent as HTTP basic auth and never as part
of the request line, as Go's HTTP client (Alertmanager's) does. Deliveries are recorded (``Delivery``) and
sent after the transaction commits, from a thread, with a few retries: a cloud's notifications are
asynchronous, and the sender never blocks the request that changed the metric.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from .kinds import KINDS

log = logging.getLogger(__name__)

COMPARE = {
    ">": lambda value, threshold: value > threshold,
    ">=": lambda value, threshold: value >= threshold,
    "<": lambda value, threshold: value < threshold,
    "<=": lambda value, threshold: value <= threshold,
}
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of an alert still firing
RETRY_DELAYS = (0.5, 2.0, 5.0)
USER_AGENT = "sandbox-alarms/1.0 (Alertmanager webhook v4)"
_threads: list[threading.Thread] = []


def _stamp(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _scaled(seconds: float) -> timedelta:
    return timedelta(seconds=max(0.0, float(seconds or 0) * float(getattr(settings, "SLIPWAY_SANDBOX_DELAY_SCALE", 1))))


def _alarms_watching(resource_id: str):
    from .models import Resource, Status

    return (
        Resource.objects.select_for_update()
        .filter(kind="alarm", attributes__resource_id=resource_id)
        .exclude(status=Status.DELETING)
    )


def evaluate_watching(resource_id: str, *, now=None) -> None:
    """Evaluate every alarm that watches ``resource_id`` (its metrics were just set)."""
    for alarm in _alarms_watching(resource_id):
        evaluate(alarm, now=now)


def after_change(resource) -> None:
    """A resource was created or changed: an alarm is evaluated at once (a new threshold may already hold)."""
    if resource.kind == "alarm":
        evaluate(resource)


def before_delete(resource) -> None:
    """A watched resource going away resolves its firing alarms; a deleted alarm resolves itself."""
    from .models import Status

    if resource.kind == "alarm":
        if resource.alarm_state.get("state") == "firing":
            _transition(resource, "ok", value=None, now=timezone.now())
        return
    for alarm in _alarms_watching(resource.id):
        if alarm.alarm_state.get("state") == "firing":
            _transition(alarm, "ok", value=None, now=timezone.now())
        elif alarm.alarm_state.get("state") == "pending" and alarm.status != Status.DELETING:
            alarm.alarm_state = {"state": "ok", "since": _stamp(timezone.now())}
            alarm.save(update_fields=["alarm_state"])


def evaluate_pending(now=None) -> None:
    """Fire the pending alarms whose duration has passed (called on every read, see ``selectors.settle``)."""
    from .models import Resource

    pending = Resource.objects.filter(kind="alarm", alarm_state__state="pending")
    if not pending.exists():
        return
    with transaction.atomic():
        for alarm in pending.select_for_update(skip_locked=True):
            evaluate(alarm, now=now)


def evaluate(alarm, *, now=None) -> str:
    """Move one alarm along ok → pending → firing → ok by the value it watches; returns its state."""
    from .models import Resource

    now = now or timezone.now()
    attributes = alarm.attributes
    watched = Resource.objects.filter(pk=attributes.get("resource_id")).first()
    value = (watched.metrics or {}).get(attributes.get("metric")) if watched is not None else None
    state = alarm.alarm_state or {}
    current = state.get("state", "ok")
    holds = value is not None and COMPARE[attributes["comparison"]](value, attributes["threshold"])
    if not holds:
        if current == "firing":
            _transition(alarm, "ok", value=value, now=now)
        elif current != "ok" or not state:
            alarm.alarm_state = {"state": "ok", "since": _stamp(now), "value": value}
            alarm.save(update_fields=["alarm_state"])
        return "ok"
    if current == "firing":
        if state.get("value") != value:
            alarm.alarm_state = state | {"value": value}
            alarm.save(update_fields=["alarm_state"])
        return "firing"
    since = state.get("since") if current == "pending" else _stamp(now)
    started = datetime.fromisoformat(since.replace("Z", "+00:00"))
    if now - started >= _scaled(attributes.get("duration_seconds") or 0):
        _transition(alarm, "firing", value=value, now=now)
        return "firing"
    alarm.alarm_state = {"state": "pending", "since": since, "value": value}
    alarm.save(update_fields=["alarm_state"])
    return "pending"


def _fingerprint(alarm, starts_at: str) -> str:
    # Alertmanager's fingerprint is a hash of the alert's labels; a new firing of the same alarm has the same
    # fingerprint and a new startsAt.
    return hashlib.sha256(f"{alarm.id}|{alarm.attributes.get('alarm_name') or alarm.name}".encode()).hexdigest()[:16]


def _transition(alarm, to: str, *, value, now) -> None:
    from .models import Delivery

    state = alarm.alarm_state or {}
    if to == "firing":
        starts_at = _stamp(now)
        alarm.alarm_state = {
            "state": "firing",
            "since": starts_at,
            "starts_at": starts_at,
            "value": value,
            "fingerprint": _fingerprint(alarm, starts_at),
        }
        status, ends_at = "firing", ZERO_TIME
    else:
        starts_at = state.get("starts_at") or _stamp(now)
        alarm.alarm_state = {"state": "ok", "since": _stamp(now), "value": value, "resolved_at": _stamp(now)}
        status, ends_at = "resolved", _stamp(now)
    alarm.save(update_fields=["alarm_state"])
    payload = alertmanager_payload(alarm, status=status, starts_at=starts_at, ends_at=ends_at, value=value)
    if not alarm.sealed.get("webhook_url"):
        return  # an alarm without a receiver changes state and tells no one
    delivery = Delivery.objects.create(
        alarm_id=alarm.id,
        alarm_name=alarm.attributes.get("alarm_name") or alarm.name,
        alert_status=status,
        payload=payload,
        created_at=now,
    )
    transaction.on_commit(lambda: _send_later(delivery.pk))


def alertmanager_payload(alarm, *, status: str, starts_at: str, ends_at: str, value) -> dict:
    """One alert in Alertmanager's webhook format, version 4."""
    attributes = alarm.attributes
    name = attributes.get("alarm_name") or alarm.name
    watched = attributes.get("resource_id")
    labels = {
        "alertname": name,
        "severity": attributes.get("severity") or "warning",
        "resource_id": watched,
        "metric": attributes.get("metric"),
        "cloud": "sandbox",
    }
    for key in ("slipway-deployment", "team", "environment", "project"):
        if key in (alarm.tags or {}):
            labels[key.replace("-", "_")] = alarm.tags[key]
    summary = attributes.get("summary") or name
    comparison = f"{attributes.get('metric')} {attributes.get('comparison')} {attributes.get('threshold')}"
    annotations = {
        "summary": summary,
        "description": (
            f"{comparison}: the value is {value}."
            if status == "firing"
            else f"{comparison} no longer holds (the value is {value if value is not None else 'gone'})."
        ),
        "value": "" if value is None else str(value),
    }
    base = getattr(settings, "SLIPWAY_PUBLIC_URL", "") or getattr(settings, "SLIPWAY_BASE_URL", "")
    generator = f"{base.rstrip('/')}/sandbox/resources/{alarm.id}/"
    fingerprint = (alarm.alarm_state or {}).get("fingerprint") or _fingerprint(alarm, starts_at)
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "slipway",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": f"{base.rstrip('/')}/sandbox/",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": starts_at,
                "endsAt": ends_at,
                "generatorURL": generator,
                "fingerprint": fingerprint,
            }
        ],
    }


# --- delivery -----------------------------------------------------------------------------------------------


def split_credentials(url: str) -> tuple[str, dict]:
    """(the URL without ``user:password@``, the headers that carry them as basic auth)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), {"Authorization": f"Basic {token}"}


def _send_later(delivery_id: int) -> None:
    thread = threading.Thread(
        target=_send_thread, args=(delivery_id,), daemon=True, name=f"sandbox-alarm-{delivery_id}"
    )
    _threads.append(thread)
    thread.start()


def _send_thread(delivery_id: int) -> None:
    try:
        deliver(delivery_id)
    except Exception:  # a thread's failure must leave a trace, never a traceback on stderr only
        log.exception("sandbox alarm delivery %s failed", delivery_id)
    finally:
        connection.close()


def deliver(delivery_id: int, *, delays=RETRY_DELAYS) -> None:
    """POST one recorded notification, retrying on connection errors and 5xx; records what the receiver said."""
    from .models import Delivery, Resource

    close_old_connections()
    delivery = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).first()
    if delivery is None:
        return
    alarm = Resource.objects.filter(pk=delivery.alarm_id).first()
    url = (alarm.sealed.get("webhook_url") if alarm is not None else None) or ""
    if not url:
        Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.FAILED, response_text="no webhook URL")
        return
    target, headers = split_credentials(url)
    body = json.dumps(delivery.payload).encode()
    for attempt, delay in enumerate((0.0, *delays), start=1):
        if delay:
            time.sleep(delay)
        request = urllib.request.Request(
            target,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        status, text = 0, ""
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, text = response.status, response.read(500).decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read(500).decode(errors="replace")
        except OSError as exc:
            text = f"{type(exc).__name__}: {exc}"[:500]
        done = 200 <= status < 300
        final = done or (400 <= status < 500) or attempt == len(delays) + 1
        Delivery.objects.filter(pk=delivery.pk).update(
            attempts=attempt,
            response_status=status or None,
            response_text=text[:500],
            status=Delivery.Status.DELIVERED
            if done
            else (Delivery.Status.FAILED if final else Delivery.Status.PENDING),
            delivered_at=timezone.now() if done else None,
        )
        if final:
            return


def wait_for_deliveries(timeout: float = 30.0) -> None:
    """Join the delivery threads started so far (tests, and a clean shutdown of ``manage.py``)."""
    deadline = time.monotonic() + timeout
    while _threads:
        thread = _threads.pop(0)
        thread.join(max(0.0, deadline - time.monotonic()))


def metric_kinds() -> dict[str, tuple[str, ...]]:
    return {k.name: k.metrics for k in KINDS.values() if k.metrics}
