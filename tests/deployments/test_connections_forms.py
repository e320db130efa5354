"""Wiring in the new and edit forms: a select of compatible producers, the default preselected, the rest
explained in words; the deployment's page shows its connections, what it publishes and who uses it."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from deployments import services
from deployments.models import Deployment, Run
from tests.deployments.test_connections import PG_SPECS, create, live

pytestmark = pytest.mark.django_db


def selected(page: str, name: str) -> str:
    select = re.search(rf'<select id="conn-{name}" name="connection/{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select for {name}"
    chosen = re.search(r'<option value="([^"]*)" selected>', select.group(1))
    return chosen.group(1) if chosen else ""


def test_the_new_form_offers_the_compatible_producers_and_explains_the_others(dev_client, catalog, proto_env, dev):
    db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    live(create(proto_env, catalog, "datastore", "old-db", dev), specs={**PG_SPECS, "version": "14"})
    create(proto_env, catalog, "datastore", "new-db", dev)  # not applied yet
    page = dev_client.get(reverse("deployments:new", args=["webapp"]), {"environment": proto_env.pk}).content.decode()
    assert "Connections" in page and "(PostgreSQL database)" in page
    assert selected(page, "database") == str(db.pk)  # the only compatible one, for a required connection
    assert "old-db: version is &#x27;14&#x27;: &#x27;14&#x27; is not one of [&#x27;15&#x27;, &#x27;16&#x27;]" in page
    assert "new-db has not applied successfully yet, so it publishes no postgresql yet." in page
    assert selected(page, "assets") == ""  # optional: not connected
    assert "There is no object storage bucket in checkout/proto yet: deploy one first" in page


def test_a_deployment_is_created_with_its_connections_from_the_form(dev_client, catalog, proto_env, dev):
    db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    data = {"environment": proto_env.pk, "name": "shop", "reason": "", "param/replicas": "1"}
    response = dev_client.post(reverse("deployments:new", args=["webapp"]), {**data, "connection/database": str(db.pk)})
    assert response.status_code == 302, response.content.decode()[:3000]
    shop = Deployment.objects.get(name="shop")
    assert shop.connections == {"database": str(db.pk)}
    page = dev_client.get(shop.get_absolute_url()).content.decode()
    assert f'href="{db.get_absolute_url()}">orders-db</a>' in page
    db_page = dev_client.get(db.get_absolute_url()).content.decode()
    assert "Connected to it" in db_page and f'href="{shop.get_absolute_url()}">shop</a>' in db_page
    assert 'data-artifact="database"><code>postgresql</code> database, version 1' in db_page


def test_a_required_connection_left_empty_is_refused_beside_its_select(dev_client, catalog, proto_env, dev):
    live(create(proto_env, catalog, "datastore", "orders-db", dev))
    data = {"environment": proto_env.pk, "name": "shop", "reason": "", "param/replicas": "1", "connection/database": ""}
    response = dev_client.post(reverse("deployments:new", args=["webapp"]), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r'aria-invalid="true".*Database is required: connect a postgresql of checkout/proto', page, re.S)
    assert not Deployment.objects.filter(name="shop").exists()


def test_the_edit_form_keeps_the_current_producer_and_can_change_it(dev_client, catalog, proto_env, dev):
    first = live(create(proto_env, catalog, "datastore", "first-db", dev))
    second = live(create(proto_env, catalog, "datastore", "second-db", dev))
    shop = live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "first-db"}))
    page = dev_client.get(reverse("deployments:edit", args=[shop.pk])).content.decode()
    assert selected(page, "database") == str(first.pk)
    data = {"reason": "move", "param/replicas": "1", "connection/database": str(second.pk), "expected_version": "1"}
    response = dev_client.post(reverse("deployments:edit", args=[shop.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    shop.refresh_from_db()
    assert shop.connections == {"database": str(second.pk)}
    history = list(shop.history.order_by("history_date").values_list("connections", flat=True))
    assert history[0] == {"database": str(first.pk)} and history[-1] == {"database": str(second.pk)}


def test_the_environment_default_is_preselected(dev_client, catalog, proto_env, dev):
    network = live(
        create(proto_env, catalog, "network", "main-net", dev),
        specs={"network_id": "net-1", "cidr_block": "10.0.0.0/16", "dns_domain": "main.internal"},
    )
    live(
        create(proto_env, catalog, "network", "second-net", dev),
        specs={"network_id": "net-2", "cidr_block": "10.1.0.0/16"},
    )
    page = dev_client.get(
        reverse("deployments:new", args=["web-service"]), {"environment": proto_env.pk}
    ).content.decode()
    assert selected(page, "network") == str(network.pk)
    assert f"main-net (Private network {catalog['network'].version}) · environment default" in page
    assert selected(page, "database") == ""  # required, none live: nothing to pick
    assert "There is no postgresql database in checkout/proto yet: deploy one first" in page


def test_a_consumer_shows_upstream_changed_with_the_fields_that_changed(dev_client, catalog, proto_env, dev):
    from deployments.connections.services import artifact_store
    from deployments.models import Run

    db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    shop = live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"}))
    used = {"deployment": str(db.pk), "name": "orders-db", "artifact": "database", "type": "postgresql", "serial": 1}
    Run.objects.filter(deployment=shop).update(status="succeeded", upstream={"database": used})
    page = dev_client.get(shop.get_absolute_url()).content.decode()
    assert "Upstream changed" not in page
    changed = {"specs": {**PG_SPECS, "host": "db2.internal"}, "data": {"username": "app", "password": "new-secret-99"}}
    artifact_store(deployment=db, declared=db.bundle_version.artifacts[0], payload=changed)
    page = dev_client.get(shop.get_absolute_url()).content.decode()
    assert "<strong>Upstream changed</strong>" in page
    assert "is version 2; this deployment last applied with version 1." in page
    assert "specs.host: db.internal → db2.internal" in page and "data.password changed" in page
    assert "new-secret-99" not in page and "pw-0123456789" not in page


def test_a_rewiring_waiting_for_its_plan_is_shown_pending_beside_the_producer_running(
    dev_client, catalog, proto_env, dev
):
    first = live(create(proto_env, catalog, "datastore", "first-db", dev))
    live(create(proto_env, catalog, "datastore", "second-db", dev))
    shop = live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "first-db"}))
    used = {"database": {"deployment": str(first.pk), "name": "first-db", "artifact": "database", "serial": 1}}
    shop.runs.update(status="succeeded", upstream=used, finished_at=timezone.now())
    page = dev_client.get(shop.get_absolute_url()).content.decode()
    assert 'class="table compare"' not in page  # applied as wired: one configuration

    services.deployment_update(
        deployment=shop, params=shop.params, actor=dev, connections={"database": "second-db"}, auto_apply=False
    )
    assert Run.objects.filter(deployment=shop, status="queued").exists()
    page = dev_client.get(shop.get_absolute_url()).content.decode()
    table = page[page.index('<table class="table compare">') :]
    table = table[: table.index("</table>")]
    assert '<tr class="changed"><th scope="row">Database (connection)</th><td>first-db</td><td>second-db' in table
    assert "pending" in table


def test_the_page_lists_artifacts_with_specs_in_clear_and_reveals_data_only_to_who_may_change_it(
    dev_client, catalog, proto_env, dev, auditor, outsider
):
    db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    page = dev_client.get(db.get_absolute_url()).content.decode()
    assert '<td data-spec="host">db.internal</td>' in page and '<td data-spec="port">5432</td>' in page
    assert "<code>data.username</code></th><td>app</td>" in page  # not sensitive in the type: shown
    assert "pw-0123456789" not in page  # the password is masked
    url = reverse("deployments:artifact-reveal", args=[db.pk, "database"])
    assert f'hx-post="{url}"' in page
    # Who may only read it sees no button, and is refused if they post anyway; nothing is recorded.
    for user, status in ((auditor, 403), (outsider, 404)):
        client = Client()
        client.force_login(user)
        if status == 403:
            assert f'hx-post="{url}"' not in client.get(db.get_absolute_url()).content.decode()
        assert client.post(url).status_code == status
    assert not AuditEvent.objects.filter(event_type="secret.revealed").exists()
    shown = dev_client.post(url)
    assert shown.status_code == 200
    assert '<code class="revealed">pw-0123456789</code>' in shown.content.decode()
    event = AuditEvent.objects.get(event_type="secret.revealed")
    assert (event.actor_name, event.channel, event.target_id) == ("dev", "ui", str(db.pk))
    assert event.data == {"artifact": "database", "type": "postgresql", "serial": 1}
    assert dev_client.post(reverse("deployments:artifact-reveal", args=[db.pk, "nothing"])).status_code == 404
    assert dev_client.get(url).status_code == 405


def test_an_exception_asked_from_the_edit_form_carries_the_new_producer_and_approving_it_rewires(
    dev_client, ops, catalog, proto_env, dev
):
    from deployments.models import ExceptionRequest
    from deployments.policy import services as decisions
    from tests.deployments.test_policy import set_overlays

    first = live(create(proto_env, catalog, "datastore", "first-db", dev))
    second = live(create(proto_env, catalog, "datastore", "second-db", dev))
    shop = live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "first-db"}))
    set_overlays(proto_env, {"webapp": {"properties": {"replicas": {"maximum": 2}}}})
    data = {"reason": "", "param/replicas": "4", "connection/database": str(second.pk), "expected_version": "1"}
    refused = dev_client.post(reverse("deployments:edit", args=[shop.pk]), data)
    assert refused.status_code == 400 and "Request an exception" in refused.content.decode()
    asked = dev_client.post(
        reverse("deployments:edit", args=[shop.pk]),
        {**data, "request_exception": "1", "exception_reason": "the sale needs four"},
    )
    exception = ExceptionRequest.objects.get()
    assert asked.status_code == 302 and asked.url == exception.get_absolute_url()
    assert exception.connections == {"database": str(second.pk)}
    shop.refresh_from_db()
    assert shop.connections == {"database": str(first.pk)}  # nothing changes before ops decide

    decisions.exception_approve(request=exception, actor=ops, comment="ok for the sale")
    shop.refresh_from_db()
    assert shop.params["replicas"] == 4 and shop.connections == {"database": str(second.pk)}


def test_an_exception_asked_with_an_unknown_producer_is_refused_beside_its_select(dev_client, catalog, proto_env, dev):
    from deployments.models import ExceptionRequest
    from tests.deployments.test_policy import set_overlays

    live(create(proto_env, catalog, "datastore", "first-db", dev))
    shop = live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "first-db"}))
    set_overlays(proto_env, {"webapp": {"properties": {"replicas": {"maximum": 2}}}})
    data = {"reason": "", "param/replicas": "4", "connection/database": "no-such-db", "expected_version": "1"}
    response = dev_client.post(
        reverse("deployments:edit", args=[shop.pk]),
        {**data, "request_exception": "1", "exception_reason": "the sale needs four"},
    )
    assert response.status_code == 400
    assert "Database: there is no deployment &#x27;no-such-db&#x27; in checkout/proto." in response.content.decode()
    assert not ExceptionRequest.objects.exists()
