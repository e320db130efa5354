"""Connections are part of the desired configuration: the history, the estate diff and restore show and bring
back which producer each connection had, by name."""

import time

import pytest
from django.urls import reverse
from django.utils import timezone

from audit import services as audit
from audit.diff import Change
from audit.selectors import deployment_history, estate_diff
from deployments import services
from deployments.choices import DeploymentStatus
from deployments.models import Deployment
from portal.errors import ParamsInvalid
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db


@pytest.fixture
def rewired(catalog, proto_env, dev):
    """shop was connected to first-db, then moved to second-db (its params unchanged)."""
    first = live(create(proto_env, catalog, "datastore", "first-db", dev))
    second = live(create(proto_env, catalog, "datastore", "second-db", dev))
    shop = live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "first-db"}))
    created = shop.history.latest().history_id
    time.sleep(0.01)
    moved_at = timezone.now()
    services.deployment_update(deployment=shop, params=shop.params, actor=dev, connections={"database": "second-db"})
    shop.refresh_from_db()
    return {"first": first, "second": second, "shop": shop, "created_entry": created, "moved_at": moved_at}


def test_the_history_shows_a_connection_change_by_the_producers_names(rewired):
    steps = deployment_history(rewired["shop"])
    configuration = [s for s in steps if s.kind in ("created", "configuration")]
    moved, created = configuration[0], configuration[-1]
    assert moved.kind == "configuration"
    assert moved.changes == [Change("connections.database", "changed", old="first-db", new="second-db")]
    assert Change("connections.database", "added", new="first-db") in created.changes


def test_the_history_page_and_api_show_the_connection_change(dev_client, rewired):
    shop = rewired["shop"]
    page = dev_client.get(reverse("audit:deployment-history", args=[shop.pk])).content.decode()
    assert "connections.database" in page
    assert '<code class="old">first-db</code>' in page and '<code class="new">second-db</code>' in page
    steps = dev_client.get(reverse("deployment-history", args=[shop.pk])).json()
    newest = next(s for s in steps if s["kind"] == "configuration")
    assert newest["connections"] == {"database": str(rewired["second"].pk)}
    assert newest["changes"] == [
        {"path": "connections.database", "kind": "changed", "old": "first-db", "new": "second-db"}
    ]


def test_the_estate_diff_reports_a_deployment_rewired_with_nothing_else_changed(rewired):
    diff = estate_diff(rewired["moved_at"], timezone.now())
    entries = {e.name: e for e in diff.entries}
    assert entries["shop"].kind == "changed"
    assert entries["shop"].changes == [Change("connections.database", "changed", old="first-db", new="second-db")]
    assert "connections.database first-db → second-db" in entries["shop"].summary


def test_restore_previews_and_brings_back_the_connection(dev_client, rewired, dev):
    shop, entry = rewired["shop"], rewired["created_entry"]
    preview = audit.restore_preview(deployment=shop, history_id=entry)
    assert {"label": "Database (connection)", "now": "second-db", "after": "first-db"} in preview["rows"]
    assert preview["problems"] == []
    page = dev_client.get(reverse("audit:deployment-restore", args=[shop.pk, entry])).content.decode()
    assert "Database (connection)" in page and "first-db" in page

    run = audit.deployment_restore(deployment=shop, history_id=entry, actor=dev)
    shop.refresh_from_db()
    assert shop.connections == {"database": str(rewired["first"].pk)}
    assert run.deployment_id == shop.pk
    assert shop.history.latest().history_change_reason  # recorded like every change


def test_restore_is_refused_in_words_when_the_old_producer_is_gone(rewired, dev):
    shop, entry = rewired["shop"], rewired["created_entry"]
    Deployment.objects.filter(pk=rewired["first"].pk).update(status=DeploymentStatus.DESTROYED)
    preview = audit.restore_preview(deployment=shop, history_id=entry)
    assert preview["problems"] == [
        {"label": "Database", "messages": ["Database cannot be first-db: first-db is destroyed."]}
    ]
    with pytest.raises(ParamsInvalid) as caught:
        audit.deployment_restore(deployment=shop, history_id=entry, actor=dev)
    assert caught.value.errors == {"/connections/database": ["Database cannot be first-db: first-db is destroyed."]}
    shop.refresh_from_db()
    assert shop.connections == {"database": str(rewired["second"].pk)}
