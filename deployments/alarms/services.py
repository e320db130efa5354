"""Writes for alarms: a deployment's webhook secret, and the notifications the webhook accepts.

The webhook's answers (documented in docs/alarms.md):

- 200 ``{"message", "stored", "duplicates"}``: accepted (some alerts of an Alertmanager payload may be replays).
- 400 a body that is not what the source sends; 401 no token (with ``WWW-Authenticate: Basic``, which SNS needs
  before it sends the credentials of its URL); 403 a wrong token; 404 an unknown deployment; 409 a replay
  (every alert already received: same fingerprint, startsAt and status, or the same SNS MessageId); 413 a body
  over :data:`MAX_BODY_BYTES`; 429 too many requests. Nothing is stored unless the answer is 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from bundles.alarms import alarm_named
from portal.crypto import decrypt, encrypt
from portal.events import record_event

from ..models import Deployment
from ..notifications import notify
from .models import AlarmEndpoint, AlarmEvent, AlarmSource, AlarmStatus, SnsSubscription

MAX_BODY_BYTES = 256 * 1024
MAX_ALERTS = 500
BASIC_USER = "alarms"


class Refused(Exception):
    """A notification the webhook does not accept: ``status`` and a sentence, nothing stored."""

    def __init__(self, status: int, message: str, **extra):
        self.status = status
        self.message = message
        self.extra = extra
        super().__init__(message)


# --- the webhook's secret -----------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def alarm_endpoint_ensure(deployment: Deployment) -> str:
    """The deployment's webhook token, made on first use (a deployment created before alarms gets one too)."""
    endpoint = AlarmEndpoint.objects.select_for_update().filter(deployment=deployment).first()
    if endpoint is not None:
        return decrypt(bytes(endpoint.token_encrypted)).decode()
    token = secrets.token_urlsafe(32)
    AlarmEndpoint.objects.create(
        deployment=deployment, token_encrypted=encrypt(token.encode()), token_sha256=_digest(token)
    )
    return token


@transaction.atomic
def alarm_endpoint_rotate(*, deployment: Deployment, actor, channel: str = "ui") -> str:
    """A new token: the old one stops working at once; the next apply gives the module the new URL."""
    token = secrets.token_urlsafe(32)
    AlarmEndpoint.objects.update_or_create(
        deployment=deployment,
        defaults={
            "token_encrypted": encrypt(token.encode()),
            "token_sha256": _digest(token),
            "rotated_at": timezone.now(),
        },
    )
    record_event(event_type="alarm.webhook_rotated", actor=actor, target=deployment, channel=channel, data={})
    return token


def webhook_path(deployment: Deployment) -> str:
    return reverse("alarm-webhook", args=[deployment.pk])


def webhook_base() -> str:
    return (getattr(settings, "SLIPWAY_ALARMS_BASE_URL", "") or settings.SLIPWAY_BASE_URL).rstrip("/")


def webhook_url(deployment: Deployment, *, token: str | None = None) -> str:
    """The URL the module wires its cloud's alarms to, the token in it as basic-auth credentials
    (``https://alarms:<token>@host/hooks/alarms/<id>/``): Alertmanager and SNS both send those as an
    ``Authorization`` header, so the token is never in a request line or an access log."""
    token = token or alarm_endpoint_ensure(deployment)
    parts = urllib.parse.urlsplit(webhook_base() + webhook_path(deployment))
    netloc = f"{BASIC_USER}:{urllib.parse.quote(token, safe='')}@{parts.netloc}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def webhook_url_shown(deployment: Deployment) -> str:
    """The URL as pages show it: the token masked."""
    parts = urllib.parse.urlsplit(webhook_base() + webhook_path(deployment))
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{BASIC_USER}:••••••@{parts.netloc}"))


def token_matches(deployment: Deployment, token: str) -> bool:
    endpoint = AlarmEndpoint.objects.filter(deployment=deployment).first()
    if endpoint is None or not token:
        return False
    return hmac.compare_digest(_digest(token), endpoint.token_sha256)


# --- parsing what the sources send ------------------------------------------------------------------------


@dataclass
class Alert:
    name: str
    status: str
    dedupe_key: str
    source: str
    fingerprint: str = ""
    severity: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    summary: str = ""
    description: str = ""
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)


def _time(value, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise Refused(400, f"{where} must be a time (RFC 3339).")
    text = value.strip().replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():  # CloudWatch's +0000
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(400, f"{where} is not a time: {value[:64]!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.year <= 1:  # Alertmanager's zero time: an alert still firing has no end
        return None
    return moment


def _strings(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 100:
        raise Refused(400, f"{where} must be an object of at most 100 strings.")
    clean = {}
    for key, item in value.items():
        if not isinstance(item, str) or len(key) > 200 or len(item) > 4000:
            raise Refused(400, f"{where}/{key[:50]} must be a string (keys up to 200, values up to 4000 characters).")
        clean[key] = item
    return clean


def _clean_text(value: str) -> str:
    return "".join(c for c in value if c >= " " or c in "\n\t")


def alertmanager_alerts(data: dict) -> list[Alert]:
    """The alerts of an Alertmanager webhook payload (version 4)."""
    if str(data.get("version", "")) != "4":
        raise Refused(400, f'An Alertmanager webhook payload has version "4"; this one says {data.get("version")!r}.')
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise Refused(400, "alerts must be a non-empty list.")
    if len(alerts) > MAX_ALERTS:
        raise Refused(413, f"At most {MAX_ALERTS} alerts per notification.")
    found = []
    for index, alert in enumerate(alerts):
        where = f"/alerts/{index}"
        if not isinstance(alert, dict):
            raise Refused(400, f"{where} must be an object.")
        status = alert.get("status")
        if status not in (AlarmStatus.FIRING, AlarmStatus.RESOLVED):
            raise Refused(400, f"{where}/status must be firing or resolved.")
        labels = _strings(alert.get("labels"), f"{where}/labels")
        annotations = _strings(alert.get("annotations"), f"{where}/annotations")
        name = labels.get("alertname", "")
        if not name or len(name) > 200:
            raise Refused(400, f"{where}/labels/alertname is required (at most 200 characters).")
        starts_at = _time(alert.get("startsAt"), f"{where}/startsAt")
        if starts_at is None:
            raise Refused(400, f"{where}/startsAt is required.")
        ends_at = _time(alert.get("endsAt"), f"{where}/endsAt")
        fingerprint = alert.get("fingerprint")
        if fingerprint is None:
            fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
        if not isinstance(fingerprint, str) or not 0 < len(fingerprint) <= 200:
            raise Refused(400, f"{where}/fingerprint must be a string of at most 200 characters.")
        found.append(
            Alert(
                name=_clean_text(name),
                status=status,
                dedupe_key=f"am:{fingerprint}|{starts_at.isoformat()}|{status}",
                source=AlarmSource.ALERTMANAGER,
                fingerprint=fingerprint,
                severity=labels.get("severity", "")[:20],
                starts_at=starts_at,
                ends_at=ends_at if status == AlarmStatus.RESOLVED else None,
                summary=_clean_text(annotations.get("summary", "")),
                description=_clean_text(annotations.get("description", "")),
                labels=labels,
                annotations=annotations,
            )
        )
    return found


CLOUDWATCH_STATES = {"ALARM": AlarmStatus.FIRING, "OK": AlarmStatus.RESOLVED}


def cloudwatch_alert(envelope: dict) -> Alert | None:
    """The alert in an SNS Notification whose Message is a CloudWatch alarm; None for INSUFFICIENT_DATA."""
    message_id = envelope.get("MessageId")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 200:
        raise Refused(400, "An SNS message has a MessageId.")
    raw = envelope.get("Message")
    if not isinstance(raw, str):
        raise Refused(400, "An SNS Notification's Message is a string (here: the CloudWatch alarm as JSON).")
    try:
        alarm = json.loads(raw)
    except ValueError:
        raise Refused(400, "The SNS Message is not a CloudWatch alarm (not JSON).") from None
    if not isinstance(alarm, dict) or not isinstance(alarm.get("AlarmName"), str) or not alarm["AlarmName"]:
        raise Refused(400, "The SNS Message is not a CloudWatch alarm: it has no AlarmName.")
    state = alarm.get("NewStateValue")
    if state not in (*CLOUDWATCH_STATES, "INSUFFICIENT_DATA"):
        raise Refused(400, "NewStateValue must be ALARM, OK or INSUFFICIENT_DATA.")
    if state == "INSUFFICIENT_DATA":
        return None
    changed = _time(alarm.get("StateChangeTime"), "/Message/StateChangeTime") or timezone.now()
    status = CLOUDWATCH_STATES[state]
    reason = alarm.get("NewStateReason") if isinstance(alarm.get("NewStateReason"), str) else ""
    trigger = alarm.get("Trigger") if isinstance(alarm.get("Trigger"), dict) else {}
    labels = {
        k: str(v)[:200]
        for k, v in (
            ("alertname", alarm["AlarmName"]),
            ("region", alarm.get("Region")),
            ("account", alarm.get("AWSAccountId")),
            ("metric", trigger.get("MetricName")),
            ("namespace", trigger.get("Namespace")),
        )
        if v
    }
    return Alert(
        name=_clean_text(alarm["AlarmName"][:200]),
        status=status,
        dedupe_key=f"sns:{message_id}",
        source=AlarmSource.SNS,
        fingerprint=str(alarm.get("AlarmArn") or alarm["AlarmName"])[:200],
        starts_at=changed if status == AlarmStatus.FIRING else None,
        ends_at=changed if status == AlarmStatus.RESOLVED else None,
        summary=_clean_text(str(alarm.get("AlarmDescription") or alarm["AlarmName"])[:2000]),
        description=_clean_text(reason[:4000]),
        labels=labels,
        annotations={"NewStateReason": reason[:4000], "OldStateValue": str(alarm.get("OldStateValue", ""))[:40]},
    )


# --- storing ------------------------------------------------------------------------------------------------


def bundle_alarm_for(deployment: Deployment, name: str) -> dict | None:
    """The bundle's alarm an incoming name is: the same name, or a cloud name ending in ``-<name>`` (a module
    names its cloud alarms ``<name prefix>-<alarm>``)."""
    alarms = deployment.bundle_version.alarms or []
    found = alarm_named(alarms, name)
    if found is None:
        found = next((a for a in alarms if isinstance(a, dict) and name.endswith(f"-{a.get('name')}")), None)
    return found


def _latest(deployment: Deployment, name: str) -> AlarmEvent | None:
    return AlarmEvent.objects.filter(deployment=deployment, name=name).order_by("-id").first()


def _owners(deployment: Deployment) -> list[str]:
    members = get_user_model().objects.filter(memberships__team=deployment.environment.project.team, is_active=True)
    return sorted({u.email for u in members if u.email})


def _store(deployment: Deployment, alert: Alert) -> AlarmEvent | None:
    """Store one alert (None when it is a replay); tell the owners when an alarm starts firing."""
    previous = _latest(deployment, alert.name)
    bundle_alarm = bundle_alarm_for(deployment, alert.name)
    starts = alert.status == AlarmStatus.FIRING and (previous is None or not previous.is_firing)
    try:
        with transaction.atomic():
            event = AlarmEvent.objects.create(
                deployment=deployment,
                name=alert.name,
                bundle_alarm=(bundle_alarm or {}).get("name", ""),
                status=alert.status,
                severity=alert.severity or (bundle_alarm or {}).get("severity", ""),
                source=alert.source,
                dedupe_key=alert.dedupe_key[:300],
                fingerprint=alert.fingerprint,
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                summary=alert.summary[:2000],
                description=alert.description[:4000],
                labels=alert.labels,
                annotations=alert.annotations,
                notified=starts,
            )
    except IntegrityError:
        return None
    if starts:
        record_event(
            event_type="alarm.firing",
            target=deployment,
            channel="system",
            data={
                "alarm": alert.name,
                "severity": event.severity,
                "source": alert.source,
                "event": event.pk,
                "summary": alert.summary[:300],
            },
        )
        title = (bundle_alarm or {}).get("title") or alert.name
        notify(
            subject=f"Alarm firing on {deployment}: {title}",
            body=(
                f"The alarm {alert.name} of {deployment} is firing ({event.severity or 'no severity'}).\n"
                f"{alert.summary}\n{alert.description}".strip()
            ),
            path=deployment.get_absolute_url() + "#alarms",
            recipients=_owners(deployment),
            event="alarm.firing",
        )
    elif alert.status == AlarmStatus.RESOLVED and previous is not None and previous.is_firing:
        record_event(
            event_type="alarm.resolved",
            target=deployment,
            channel="system",
            data={"alarm": alert.name, "source": alert.source, "event": event.pk},
        )
    return event


@transaction.atomic
def alarms_receive(*, deployment: Deployment, alerts: list[Alert]) -> dict:
    """Store the alerts of one notification for ``deployment``; Refused(409) when every one is a replay."""
    Deployment.objects.select_for_update().filter(pk=deployment.pk).first()  # one notification at a time
    stored = [event for alert in alerts if (event := _store(deployment, alert)) is not None]
    duplicates = len(alerts) - len(stored)
    if not stored:
        raise Refused(
            409,
            "Already received: this notification is a replay (same fingerprint, startsAt and status, or the same "
            "SNS MessageId); nothing was stored.",
            duplicates=duplicates,
        )
    return {"message": f"Accepted {len(stored)} alert(s).", "stored": len(stored), "duplicates": duplicates}


@transaction.atomic
def sns_subscription_record(*, deployment: Deployment, envelope: dict) -> dict:
    """Store an SNS SubscriptionConfirmation: the owner confirms by opening its SubscribeURL (never fetched here)."""
    message_id, url, topic = envelope.get("MessageId"), envelope.get("SubscribeURL"), envelope.get("TopicArn")
    if not all(isinstance(v, str) and v for v in (message_id, url, topic)):
        raise Refused(400, "A SubscriptionConfirmation has MessageId, TopicArn and SubscribeURL.")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or len(url) > 2000:
        raise Refused(400, "The SubscribeURL must be an https URL.")
    try:
        with transaction.atomic():
            SnsSubscription.objects.create(
                deployment=deployment,
                message_id=message_id[:200],
                topic_arn=topic[:300],
                subscribe_url=url,
                message=_clean_text(str(envelope.get("Message", ""))[:2000]),
            )
    except IntegrityError:
        raise Refused(409, "Already received: this SubscriptionConfirmation (same MessageId) is a replay.") from None
    record_event(
        event_type="alarm.sns_subscription",
        target=deployment,
        channel="system",
        data={"topic": topic[:300], "host": parts.hostname},
    )
    return {
        "message": "Subscription confirmation stored: the deployment's owners confirm it by opening its "
        "SubscribeURL, shown on the deployment page (Slipway does not fetch it).",
        "stored": 1,
        "duplicates": 0,
    }


def sns_receive(*, deployment: Deployment, envelope: dict, message_type: str) -> dict:
    kind = envelope.get("Type")
    if message_type and kind and message_type != kind:
        raise Refused(400, "x-amz-sns-message-type and the body's Type disagree.")
    kind = kind or message_type
    if kind == "SubscriptionConfirmation":
        return sns_subscription_record(deployment=deployment, envelope=envelope)
    if kind == "UnsubscribeConfirmation":
        return {"message": "Unsubscribe confirmation noted; nothing to do.", "stored": 0, "duplicates": 0}
    if kind != "Notification":
        raise Refused(
            400, "An SNS message's Type is SubscriptionConfirmation, Notification or UnsubscribeConfirmation."
        )
    alert = cloudwatch_alert(envelope)
    if alert is None:
        return {"message": "INSUFFICIENT_DATA: nothing to record.", "stored": 0, "duplicates": 0}
    return alarms_receive(deployment=deployment, alerts=[alert])
