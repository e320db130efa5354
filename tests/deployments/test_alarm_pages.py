"""Where a firing alarm shows: the deployment page (runbook section, remedy as a prefilled "Change configuration"
that goes through policy), the change form prefilled, the overview, a badge on the environment canvas, the estate
query ``alarm:firing`` and the audit timeline; resolved, it leaves only its history."""

import base64
import json

import pytest
from django.test import Client
from django.urls import reverse

from deployments import services
from deployments.alarms.services import alarm_endpoint_ensure
from deployments.estate.query import deployments_matching

pytestmark = pytest.mark.django_db


def notify(client, deployment, status="firing", name="storage-almost-full"):
    token = alarm_endpoint_ensure(deployment)
    body = {
        "version": "4",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "severity": "warning"},
                "annotations": {"summary": "The database's disk is at least 80 % full."},
                "startsAt": "2026-12-03T21:00:00Z",
                "endsAt": "2026-12-03T21:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                "fingerprint": f"fp-{name}",
            }
        ],
    }
    auth = "Basic " + base64.b64encode(f"alarms:{token}".encode()).decode()
    answer = client.post(
        f"/hooks/alarms/{deployment.pk}/", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert answer.status_code == 200, answer.content


@pytest.fixture
def database(dev, catalog, proto_env):
    return services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["postgres"],
        params={"storage_gb": 40},
        actor=dev,
    )


def test_a_firing_alarm_shows_everywhere_and_its_remedy_prefills_the_change(
    client, dev_client, database, dev, auditor, catalog, proto_env
):
    quiet = services.deployment_create(
        environment=proto_env, name="quiet-db", bundle_version=catalog["postgres"], params={}, actor=dev
    )
    page = dev_client.get(database.get_absolute_url()).content.decode()
    assert 'id="alarms"' in page and "none firing" in page  # the bundle wires alarms: the card says so

    notify(client, database)
    page = dev_client.get(database.get_absolute_url()).content.decode()
    assert "1 firing" in page and "Storage almost full" in page
    assert 'href="#runbook-storage-almost-full"' in page and 'id="runbook-storage-almost-full"' in page
    remedy_link = reverse("deployments:edit", args=[database.pk]) + "?remedy=storage-almost-full"
    assert remedy_link in page and "Change configuration: Storage: 40 GiB → 60 GiB" in page
    assert "alarms:••••••@" in page  # the webhook shown, its token masked
    assert alarm_endpoint_ensure(database) not in page

    form = dev_client.get(remedy_link).content.decode()
    assert 'id="remedy-notice"' in form and 'value="60"' in form
    assert "Remedy for alarm storage-almost-full" in form

    home = dev_client.get(reverse("home")).content.decode()
    assert 'id="alarms-firing"' in home and "storage-almost-full" in home

    canvas = dev_client.get(reverse("deployments:canvas", args=[proto_env.pk])).content.decode()
    assert canvas.count('class="alarm-badge"') == 1 and "1 alarm firing" in canvas

    _, found = deployments_matching(user=dev, text="alarm:firing")
    assert list(found) == [database]
    _, found = deployments_matching(user=dev, text="bundle:postgres -alarm:firing")
    assert list(found) == [quiet]
    _, found = deployments_matching(user=dev, text="alarm~storage")
    assert list(found) == [database]

    reviewer = Client()
    reviewer.force_login(auditor)
    timeline = reviewer.get(reverse("audit:timeline") + "?event_type=alarm.firing").content.decode()
    assert "alarm.firing" in timeline or "Alarm firing" in timeline.replace("alarm firing", "Alarm firing")
    assert "orders-db" in timeline

    notify(client, database, "resolved")
    page = dev_client.get(database.get_absolute_url()).content.decode()
    assert "none firing" in page and "Resolved" in page  # in the history
    _, found = deployments_matching(user=dev, text="alarm:firing")
    assert list(found) == []
    assert (
        'class="alarm-badge"' not in dev_client.get(reverse("deployments:canvas", args=[proto_env.pk])).content.decode()
    )


def test_an_outsider_sees_no_alarm_of_another_team(client, database, outsider):
    notify(client, database)
    _, found = deployments_matching(user=outsider, text="alarm:firing")
    assert list(found) == []
    client.force_login(outsider)
    assert "orders-db" not in client.get(reverse("home")).content.decode()
