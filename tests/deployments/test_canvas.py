"""The environment canvas: nodes and edges in dependency layers, status, defaults, links; as plain SVG."""

import re

import pytest
from django.urls import reverse

from deployments.choices import RunStatus
from deployments.connections.canvas import environment_canvas
from deployments.models import Deployment, Run
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db


@pytest.fixture
def wired(catalog, proto_env, dev):
    network = live(
        create(proto_env, catalog, "network", "main-net", dev),
        specs={"network_id": "net-1", "cidr_block": "10.0.0.0/16"},
    )
    db = live(create(proto_env, catalog, "postgres", "orders-db", dev))
    web = create(
        proto_env,
        catalog,
        "web-service",
        "checkout-web",
        dev,
        params={"image": "ghcr.io/acme/checkout:1.4.2"},
        connections={"database": "orders-db"},
    )
    return network, db, web


def test_the_canvas_lays_out_producers_below_their_consumers(wired, proto_env):
    canvas = environment_canvas(proto_env)
    at = {n.deployment.name: n for n in canvas.nodes}
    assert at["checkout-web"].y < at["orders-db"].y and at["checkout-web"].y < at["main-net"].y
    assert at["orders-db"].y == at["main-net"].y and at["orders-db"].x != at["main-net"].x
    assert sorted((e.consumer.deployment.name, e.type, e.producer.deployment.name) for e in canvas.edges) == [
        ("checkout-web", "network", "main-net"),
        ("checkout-web", "postgresql", "orders-db"),
    ]
    assert at["main-net"].default_of == ["network"] and at["orders-db"].default_of == []
    assert environment_canvas(proto_env).nodes[0].x == canvas.nodes[0].x  # stable


def test_the_page_draws_nodes_edges_statuses_and_links_without_javascript(dev_client, wired, proto_env):
    web = wired[2]
    page = dev_client.get(reverse("deployments:canvas", args=[proto_env.pk])).content.decode()
    assert "<svg" in page and "3 deployments, 2 connections" in page
    for deployment in wired:
        assert re.search(rf'<a href="{deployment.get_absolute_url()}" class="node" data-node="{deployment.name}"', page)
    assert 'data-node="checkout-web" data-status="deploying"' in page
    assert 'data-edge="checkout-web:database:orders-db"' in page and 'data-edge="checkout-web:network:main-net"' in page
    assert "★ default" in page
    # A run on its way: the diagram redraws itself (htmx), and shows the run's progress.
    assert 'hx-trigger="every 3s"' in page and "Run #" in page
    Run.objects.filter(deployment__environment=proto_env).update(status=RunStatus.SUCCEEDED)
    Deployment.objects.filter(pk=web.pk).update(status="live")
    calm = dev_client.get(reverse("deployments:canvas", args=[proto_env.pk]), HTTP_HX_REQUEST="true")
    assert "hx-trigger" not in calm.content.decode() and "<html" not in calm.content.decode()
    assert f"?environment={proto_env.pk}" in page  # the palette adds a bundle to this environment


def test_an_empty_environment_says_what_to_do(dev_client, catalog, proto_env):
    page = dev_client.get(reverse("deployments:canvas", args=[proto_env.pk])).content.decode()
    assert "Nothing is deployed in checkout/proto yet" in page and "start with a network" in page


def test_open_connections_are_ports_and_the_connect_form_lists_every_connection(dev_client, wired, proto_env):
    web = wired[2]
    page = dev_client.get(reverse("deployments:canvas", args=[proto_env.pk])).content.decode()
    # web-service's optional bucket and queue are open: a port each, linking to the connect form.
    assert f'href="?slot={web.pk}/assets#connect" class="port" data-port="checkout-web:assets"' in page
    assert 'data-port="checkout-web:database"' not in page  # connected: an edge, not a port
    assert "checkout-web · Database (postgresql): connected to orders-db" in page
    assert "checkout-web · Assets bucket (bucket, optional): not connected" in page
    assert 'id="connect-producer-select"' not in page  # a producer is offered once a connection is picked


def test_picking_a_connection_offers_its_compatible_producers_and_says_why_not_the_others(
    dev_client, wired, catalog, proto_env, dev
):
    web = wired[2]
    live(create(proto_env, catalog, "postgres", "reports-db", dev), specs={"version": "14", "host": "h", "port": 1})
    second = live(create(proto_env, catalog, "postgres", "orders-db-2", dev))
    url = reverse("deployments:canvas", args=[proto_env.pk])
    page = dev_client.get(url, {"slot": f"{web.pk}/database"}).content.decode()
    options = re.findall(
        r'<option value="([^"]*)"', page.split('id="connect-producer-select"')[1].split("</select>")[0]
    )
    assert set(options) == {str(wired[1].pk), str(second.pk)}
    assert "reports-db: version is &#x27;14&#x27;" in page
    # htmx asks for the producer part alone when the select changes.
    part = dev_client.get(
        url, {"slot": f"{web.pk}/database"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="connect-producer"
    ).content.decode()
    assert part.lstrip().startswith('<div id="connect-producer">') and "<svg" not in part


def test_a_connection_made_on_the_canvas_is_saved_drawn_and_in_the_history(dev_client, wired, catalog, proto_env, dev):
    web = wired[2]
    second = live(create(proto_env, catalog, "postgres", "orders-db-2", dev))
    response = dev_client.post(
        reverse("deployments:canvas-connect", args=[proto_env.pk]),
        {"slot": f"{web.pk}/database", "producer": str(second.pk), "version": web.version, "reason": "new db"},
        follow=True,
    )
    web.refresh_from_db()
    assert web.connections["database"] == str(second.pk)
    page = response.content.decode()
    assert "checkout-web&#x27;s Database is now connected to orders-db-2" in page
    assert 'data-edge="checkout-web:database:orders-db-2"' in page
    assert 'data-edge="checkout-web:database:orders-db"' not in page
    assert web.history.latest().history_change_reason and web.runs.count() == 2


def test_a_producer_refused_on_the_canvas_is_explained_and_nothing_changes(dev_client, wired, catalog, proto_env, dev):
    web = wired[2]
    api = live(create(proto_env, catalog, "network", "other-net", dev), specs={"network_id": "n", "cidr_block": "x"})
    response = dev_client.post(
        reverse("deployments:canvas-connect", args=[proto_env.pk]),
        {"slot": f"{web.pk}/database", "producer": str(api.pk), "version": web.version},
        follow=True,
    )
    assert "Database cannot be other-net" in response.content.decode()
    web.refresh_from_db()
    assert web.connections["database"] == str(wired[1].pk) and web.runs.count() == 1
