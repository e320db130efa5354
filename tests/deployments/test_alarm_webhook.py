"""A deployment's alarm webhook: Alertmanager's webhook format (version 4) and CloudWatch alarms delivered by SNS
(the subscription handshake and notifications, payload shapes as AWS documents them) are accepted; a wrong or
missing token, a replay, an unknown deployment, an oversized or malformed body are refused with a clear status and
nothing stored; no notification reaches another deployment. Alarm events are append-only evidence."""

import base64
import json
import uuid

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from deployments import services
from deployments.alarms.models import AlarmEvent, SnsSubscription
from deployments.alarms.selectors import firing_alarms, with_firing_alarms
from deployments.alarms.services import alarm_endpoint_ensure, alarm_endpoint_rotate, webhook_url
from deployments.models import Deployment
from deployments.runs.models import AppendOnly

pytestmark = pytest.mark.django_db

STARTS = "2026-12-03T21:00:00.000Z"


@pytest.fixture
def deployment(dev, catalog, proto_env):
    return services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["postgres"],
        params={"storage_gb": 20},
        actor=dev,
    )


@pytest.fixture
def other(outsider, catalog, other_env):
    return services.deployment_create(
        environment=other_env, name="their-db", bundle_version=catalog["postgres"], params={}, actor=outsider
    )


def alertmanager(status="firing", *, name="storage-almost-full", fingerprint="a1b2c3d4e5f60718", starts=STARTS):
    """An Alertmanager webhook body as its ``webhook_configs`` POSTs it (version 4)."""
    alert = {
        "status": status,
        "labels": {"alertname": name, "severity": "warning", "instance": "db-1"},
        "annotations": {"summary": "Storage almost full", "description": "storage_used_percent >= 80: 91"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-03T21:30:00.000Z",
        "generatorURL": "http://prometheus.example/graph?g0.expr=...",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="storage-almost-full"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "slipway",
        "groupLabels": {"alertname": name},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [alert],
    }


def sns(message_type: str, message_id: str, **fields) -> dict:
    """An SNS HTTP(S) delivery body (AWS: "Parsing message formats")."""
    body = {
        "Type": message_type,
        "MessageId": message_id,
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:orders-db-alarms",
        "Timestamp": "2026-12-03T21:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+...",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000.pem",
    }
    return body | fields


def cloudwatch(state: str, when: str = "2026-12-03T21:05:00.000+0000") -> str:
    """A CloudWatch alarm state change as SNS carries it in ``Message`` (a JSON string)."""
    return json.dumps(
        {
            "AlarmName": "checkout-proto-orders-db-storage-almost-full",
            "AlarmDescription": "Storage almost full",
            "AWSAccountId": "123456789012",
            "AlarmConfigurationUpdatedTimestamp": "2026-12-01T10:00:00.000+0000",
            "NewStateValue": state,
            "NewStateReason": "Threshold Crossed: 1 datapoint [91.0 (03/12/26 21:04:00)] was greater than or "
            "equal to the threshold (80.0).",
            "StateChangeTime": when,
            "Region": "EU (Ireland)",
            "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-proto-orders-db-storage-almost-full",
            "OldStateValue": "OK" if state == "ALARM" else "ALARM",
            "Trigger": {
                "MetricName": "FreeStorageSpace",
                "Namespace": "AWS/RDS",
                "Statistic": "MINIMUM",
                "Dimensions": [{"value": "orders-db", "name": "DBInstanceIdentifier"}],
                "Period": 300,
                "EvaluationPeriods": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "Threshold": 80.0,
            },
        }
    )


def post(client, deployment_id, body, *, token=None, bearer=False, sns_type=None, raw=None):
    headers = {}
    if token is not None:
        if bearer:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        else:
            headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"alarms:{token}".encode()).decode()
    if sns_type:
        headers["HTTP_X_AMZ_SNS_MESSAGE_TYPE"] = sns_type
    content_type = "text/plain; charset=UTF-8" if sns_type else "application/json"
    data = raw if raw is not None else json.dumps(body)
    return client.post(f"/hooks/alarms/{deployment_id}/", data=data, content_type=content_type, **headers)


def test_an_alertmanager_firing_then_resolved_is_stored_once_and_the_owners_told_once(client, deployment, dev):
    token = alarm_endpoint_ensure(deployment)
    answer = post(client, deployment.pk, alertmanager(), token=token)
    assert answer.status_code == 200, answer.content
    assert answer.json()["stored"] == 1
    event = AlarmEvent.objects.get(deployment=deployment)
    assert (event.status, event.source, event.bundle_alarm, event.severity) == (
        "firing",
        "alertmanager",
        "storage-almost-full",
        "warning",
    )
    assert event.notified and [a.pk for a in firing_alarms(deployment)] == [event.pk]
    assert list(with_firing_alarms(Deployment.objects.all())) == [deployment]

    # A replay: same fingerprint, startsAt and status. Refused, nothing stored, nobody told again.
    again = post(client, deployment.pk, alertmanager(), token=token, bearer=True)
    assert again.status_code == 409 and "replay" in again.json()["message"]
    assert AlarmEvent.objects.filter(deployment=deployment).count() == 1

    resolved = post(client, deployment.pk, alertmanager("resolved"), token=token)
    assert resolved.status_code == 200
    assert firing_alarms(deployment) == []
    assert list(with_firing_alarms(Deployment.objects.all())) == []
    kinds = list(
        AuditEvent.objects.filter(target_id=str(deployment.pk), event_type__startswith="alarm.").values_list(
            "event_type", flat=True
        )
    )
    assert sorted(kinds) == ["alarm.firing", "alarm.resolved"]


def test_sns_subscription_confirmation_and_cloudwatch_notifications_are_accepted(client, deployment):
    token = alarm_endpoint_ensure(deployment)
    confirm = sns(
        "SubscriptionConfirmation",
        "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        Token="2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
        Message="You have chosen to subscribe to the topic arn:aws:sns:eu-west-1:123456789012:orders-db-alarms.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        SubscribeURL="https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:"
        "eu-west-1:123456789012:orders-db-alarms&Token=2336412f37",
    )
    # SNS sends without credentials first and expects the challenge.
    challenge = post(client, deployment.pk, confirm, sns_type="SubscriptionConfirmation")
    assert challenge.status_code == 401 and challenge["WWW-Authenticate"].startswith("Basic")
    answer = post(client, deployment.pk, confirm, token=token, sns_type="SubscriptionConfirmation")
    assert answer.status_code == 200, answer.content
    (subscription,) = SnsSubscription.objects.filter(deployment=deployment)
    assert subscription.subscribe_url.startswith("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription")
    assert post(client, deployment.pk, confirm, token=token, sns_type="SubscriptionConfirmation").status_code == 409

    firing = sns(
        "Notification", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", Subject="ALARM: ...", Message=cloudwatch("ALARM")
    )
    assert post(client, deployment.pk, firing, token=token, sns_type="Notification").status_code == 200
    event = AlarmEvent.objects.get(deployment=deployment)
    assert (event.source, event.status, event.bundle_alarm) == ("sns", "firing", "storage-almost-full")
    assert event.starts_at.isoformat() == "2026-12-03T21:05:00+00:00"
    assert "Threshold Crossed" in event.description
    # The same MessageId again (SNS retries a delivery it thinks failed): refused, nothing stored.
    assert post(client, deployment.pk, firing, token=token, sns_type="Notification").status_code == 409
    ok = sns("Notification", "f86e3c5b-cd17-1ab8-80e9-c0776d4f1e7a", Message=cloudwatch("OK", "2026-12-03T21:40:00Z"))
    assert post(client, deployment.pk, ok, token=token, sns_type="Notification").status_code == 200
    assert firing_alarms(deployment) == []
    assert AlarmEvent.objects.filter(deployment=deployment).count() == 2
    insufficient = sns("Notification", "0a1b", Message=cloudwatch("INSUFFICIENT_DATA"))
    assert post(client, deployment.pk, insufficient, token=token, sns_type="Notification").status_code == 200
    assert AlarmEvent.objects.filter(deployment=deployment).count() == 2


def test_wrong_tokens_unknown_deployments_and_bad_bodies_are_refused_and_nothing_is_stored(
    client, deployment, other, settings
):
    token = alarm_endpoint_ensure(deployment)
    theirs = alarm_endpoint_ensure(other)
    body = alertmanager()
    cases = [
        (post(client, deployment.pk, body), 401),
        (post(client, deployment.pk, body, token="not-the-token"), 403),
        (post(client, deployment.pk, body, token=theirs), 403),  # another deployment's token
        (post(client, other.pk, body, token=token), 403),  # this token on another deployment
        (post(client, uuid.uuid4(), body, token=token), 404),
        (post(client, deployment.pk, body, token=token, raw="{not json"), 400),
        (post(client, deployment.pk, body, token=token, raw="[]"), 400),
        (post(client, deployment.pk, body | {"version": "3"}, token=token), 400),
        (post(client, deployment.pk, body, token=token, raw=json.dumps(body).replace("db-1", "db\\u0000")), 400),
        (post(client, deployment.pk, body, token=token, raw=json.dumps(body).replace("db-1", "\\ud800")), 400),
        (post(client, deployment.pk, body, token=token, raw="[" * 100 + "]" * 100), 400),
        (
            post(
                client, deployment.pk, body | {"alerts": [body["alerts"][0] | {"startsAt": "yesterday"}]}, token=token
            ),
            400,
        ),
        (post(client, deployment.pk, body | {"alerts": [{"status": "firing"}]}, token=token), 400),
        (post(client, deployment.pk, body, token=token, raw=json.dumps(body) + " " * 300_000), 413),
        (client.get(f"/hooks/alarms/{deployment.pk}/"), 405),
    ]
    for answer, status in cases:
        assert answer.status_code == status, (status, answer.content)
        assert answer.json()["message"]
    assert not AlarmEvent.objects.exists() and not SnsSubscription.objects.exists()
    # The token never shows in an answer.
    assert all(token not in answer.content.decode() for answer, _ in cases)

    # Rotated: the old token stops working.
    new = alarm_endpoint_rotate(deployment=deployment, actor=None)
    assert post(client, deployment.pk, body, token=token).status_code == 403
    assert post(client, deployment.pk, body, token=new).status_code == 200
    assert not AlarmEvent.objects.filter(deployment=other).exists()  # nothing reached the other deployment


def test_the_webhook_is_rate_limited(client, deployment, settings):
    settings.SLIPWAY_ALARM_WEBHOOK_RATE = 3
    cache.clear()  # the window counts per address too: this process's other webhook tests came from 127.0.0.1
    token = alarm_endpoint_ensure(deployment)
    statuses = [post(client, deployment.pk, {}, token=token).status_code for _ in range(5)]
    assert statuses[:3] == [400, 400, 400] and statuses[3:] == [429, 429]


def test_the_url_carries_the_token_as_basic_auth_and_the_token_is_stored_encrypted(deployment):
    token = alarm_endpoint_ensure(deployment)
    assert alarm_endpoint_ensure(deployment) == token  # made once
    url = webhook_url(deployment)
    assert url.startswith("http://alarms:") and url.endswith(f"/hooks/alarms/{deployment.pk}/")
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_encrypted::text, token_sha256 FROM deployments_alarmendpoint")
        ((encrypted, digest),) = cursor.fetchall()
    assert token not in encrypted and token != digest


def test_alarm_events_are_append_only(client, deployment):
    post(client, deployment.pk, alertmanager(), token=alarm_endpoint_ensure(deployment))
    event = AlarmEvent.objects.get()
    with pytest.raises(AppendOnly):
        AlarmEvent.objects.filter(pk=event.pk).update(status="resolved")
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        event.save()
    if connection.vendor == "postgresql":
        for statement in (
            "UPDATE deployments_alarmevent SET status = 'resolved'",
            "DELETE FROM deployments_alarmevent",
        ):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
                c.execute(statement)
    assert AlarmEvent.objects.get().status == "firing"
