"""The sandbox's metrics and alarms: utilisation set from the API and the console; an alarm goes ok → pending →
firing → ok by the value it watches and its duration; each firing and resolution POSTs one Alertmanager webhook
(version 4) to its URL, the URL's credentials sent as basic auth; the cloud never shows the URL."""

import base64
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from portal.sandbox import alarms, services
from portal.sandbox.models import Delivery, Event, Resource

pytestmark = pytest.mark.django_db(transaction=True)
API = "/sandbox/api/v1"


@pytest.fixture
def receiver():
    """A small HTTP server standing in for Slipway's webhook: records each request; answers ``status``."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        status = 200

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
            self.send_response(Handler.status)
            self.end_headers()
            self.wfile.write(b'{"message": "ok"}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.seen, server.handler = seen, Handler
    server.url = f"http://alarms:s3cr%2Ft@127.0.0.1:{server.server_port}/hooks/alarms/abc/"
    yield server
    server.shutdown()


@pytest.fixture
def database(db):
    return services.resource_create(
        kind="database", name="orders-db", attributes={"size": "small", "storage_gb": 20}, tags={}, actor="api: tests"
    ).resource


def alarm(database, url, **attributes):
    return services.resource_create(
        kind="alarm",
        name="orders-db-storage",
        attributes={
            "resource_id": database.pk,
            "metric": "storage_used_percent",
            "comparison": ">=",
            "threshold": 80,
            "alarm_name": "storage-almost-full",
            "webhook_url": url,
            **attributes,
        },
        tags={"slipway-deployment": "d-1", "team": "payments"},
        actor="api: tests",
    ).resource


def settled(resource):
    alarms.wait_for_deliveries()
    return Resource.objects.get(pk=resource.pk)


def test_an_alarm_fires_and_resolves_sending_one_alertmanager_webhook_each(client, database, receiver):
    watcher = alarm(database, receiver.url)
    assert settled(watcher).alarm_state["state"] == "ok"
    services.metrics_set(resource_id=database.pk, metrics={"storage_used_percent": 91}, actor="api: tests")
    assert settled(watcher).alarm_state["state"] == "firing"
    services.metrics_set(resource_id=database.pk, metrics={"storage_used_percent": 95}, actor="api: tests")
    assert len(receiver.seen) == 1  # still firing: nothing new to say
    services.metrics_set(resource_id=database.pk, metrics={"storage_used_percent": 50}, actor="api: tests")
    assert settled(watcher).alarm_state["state"] == "ok"

    firing, resolved = receiver.seen
    assert firing["path"] == "/hooks/alarms/abc/"  # the credentials are not in the request line
    assert firing["headers"]["Authorization"] == "Basic " + base64.b64encode(b"alarms:s3cr/t").decode()
    body = firing["body"]
    assert (body["version"], body["status"], body["receiver"]) == ("4", "firing", "slipway")
    (alert,) = body["alerts"]
    assert alert["labels"]["alertname"] == "storage-almost-full" and alert["labels"]["resource_id"] == database.pk
    assert alert["labels"]["slipway_deployment"] == "d-1" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["annotations"]["value"] == "91"
    (again,) = resolved["body"]["alerts"]
    assert again["status"] == "resolved" and again["fingerprint"] == alert["fingerprint"]
    assert again["startsAt"] == alert["startsAt"] and again["endsAt"] != "0001-01-01T00:00:00Z"
    assert list(Delivery.objects.values_list("alert_status", "status", "response_status")) == [
        ("resolved", "delivered", 200),
        ("firing", "delivered", 200),
    ]

    # The API and the console never show the URL (its token): only that it is set.
    token = django_settings.SLIPWAY_SANDBOX_TOKEN
    shown = client.get(f"{API}/resources/{watcher.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert "s3cr" not in json.dumps(shown) and shown["secrets_set"] == ["webhook_url"]
    assert shown["alarm_state"]["state"] == "ok"
    deliveries = client.get(f"{API}/deliveries/?alarm={watcher.pk}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert len(deliveries["results"]) == 2 and "s3cr" not in json.dumps(deliveries)
    assert "s3cr" not in json.dumps(list(Event.objects.values("changes")))


def test_a_duration_makes_it_pending_first_and_a_read_fires_it_once_the_time_has_passed(database, receiver, settings):
    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 1.0
    watcher = alarm(database, receiver.url, duration_seconds=300)
    Resource.objects.filter(pk=watcher.pk).update(status="available", ready_at=None)
    services.metrics_set(resource_id=database.pk, metrics={"storage_used_percent": 91}, actor="api: tests")
    state = settled(watcher).alarm_state
    assert state["state"] == "pending" and receiver.seen == []
    # Five minutes later, any read of the cloud settles it.
    earlier = (timezone.now() - timedelta(seconds=301)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    Resource.objects.filter(pk=watcher.pk).update(alarm_state=state | {"since": earlier})
    services.resource_update(resource_id=database.pk, tags={"touched": "yes"}, actor="api: tests")
    assert settled(watcher).alarm_state["state"] == "firing" and len(receiver.seen) == 1


def test_a_receiver_that_refuses_is_recorded_and_not_retried(database, receiver):
    receiver.handler.status = 403
    watcher = alarm(database, receiver.url)
    services.metrics_set(resource_id=database.pk, metrics={"storage_used_percent": 91}, actor="api: tests")
    settled(watcher)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 403)


def test_metrics_are_checked_and_set_from_the_api_and_the_console(client, database, ops):
    token = django_settings.SLIPWAY_SANDBOX_TOKEN

    def put(body):
        return client.post(
            f"{API}/resources/{database.pk}/metrics/",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert put({"metrics": {"storage_used_percent": 42}}).json()["metrics"] == {"storage_used_percent": 42}
    for bad in ({"metrics": {"size_gb": 1}}, {"metrics": {"cpu_percent": -1}}, {"metrics": "x"}, {"other": 1}):
        assert put(bad).status_code == 400, bad
    assert put({"metrics": {"storage_used_percent": None}}).json()["metrics"] == {}

    client.force_login(ops)
    url = reverse("sandbox:resource-metrics", args=[database.pk])
    page = client.get(database.get_absolute_url()).content.decode()
    assert "Simulated utilisation" in page and 'name="metric/storage_used_percent"' in page
    assert client.post(url, {"metric/cpu_percent": "lots"}).status_code == 400
    assert client.post(url, {"metric/cpu_percent": "75", "metric/connections": "12"}).status_code == 302
    assert Resource.objects.get(pk=database.pk).metrics == {"cpu_percent": 75, "connections": 12}
    assert Event.objects.filter(resource_id=database.pk, actor="console: ops", changes__has_key="metrics.cpu_percent")
