"""The environment canvas in a browser: network, database and web service drawn with their connections and
statuses; a box opens its deployment; a connection made on the canvas (through the picker and through an
open port) is saved and drawn."""

import re

import pytest
from playwright.sync_api import expect

from deployments.models import Deployment
from tests.conftest import PASSWORD
from tests.deployments.test_connections import create, live
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_the_canvas_draws_the_environment_opens_a_deployment_and_wires_a_connection(page, dev, catalog, proto_env):
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
    login(page, "dev", PASSWORD)
    page.goto(f"/deployments/environments/{proto_env.pk}/canvas/")

    # Three boxes, each with its status, and two arrows labelled with what they carry.
    diagram = page.locator("#diagram svg")
    expect(diagram.locator("a.node")).to_have_count(3)
    for name, status in (("main-net", "live"), ("orders-db", "live"), ("checkout-web", "deploying")):
        node = diagram.locator(f'a.node[data-node="{name}"]')
        expect(node).to_have_attribute("data-status", status)
        expect(node).to_contain_text(status)
    expect(diagram.locator("g.edge")).to_have_count(2)
    expect(diagram.locator('g.edge[data-edge="checkout-web:network:main-net"]')).to_contain_text("network")
    expect(diagram.locator('g.edge[data-edge="checkout-web:database:orders-db"]')).to_contain_text("postgresql")
    expect(diagram.locator('a.node[data-node="main-net"]')).to_contain_text("default")

    # A click on a box opens its deployment.
    diagram.locator('a.node[data-node="orders-db"]').click()
    expect(page).to_have_url(re.compile(rf"/deployments/{db.pk}/$"))
    expect(page.locator("h1").first).to_contain_text("orders-db")
    page.go_back()

    # Rewire the database with the picker: the producers appear for the connection chosen (htmx), then Connect.
    other = live(create(proto_env, catalog, "postgres", "orders-db-2", dev))
    page.reload()
    page.get_by_label("Connection", exact=True).select_option(f"{web.pk}/database")
    producer = page.get_by_label("checkout-web's Database (postgresql) uses")
    expect(producer).to_be_visible()
    producer.select_option(str(other.pk))
    page.get_by_label("Why?").fill("the new database")
    page.get_by_role("button", name="Connect").click()
    expect(page.locator(".messages")).to_contain_text("checkout-web's Database is now connected to orders-db-2")
    expect(page.locator('g.edge[data-edge="checkout-web:database:orders-db-2"]')).to_have_count(1)
    expect(page.locator('g.edge[data-edge="checkout-web:database:orders-db"]')).to_have_count(0)
    assert Deployment.objects.get(pk=web.pk).connections["database"] == str(other.pk)

    # An open port (the optional bucket) leads to the same form, the connection already picked.
    files = live(create(proto_env, catalog, "object-storage", "files", dev))
    page.reload()
    page.locator('a.port[data-port="checkout-web:assets"]').click()
    bucket = page.get_by_label("checkout-web's Assets bucket (bucket) uses")
    expect(bucket).to_be_visible()
    bucket.select_option(str(files.pk))
    page.get_by_role("button", name="Connect").click()
    expect(page.locator('g.edge[data-edge="checkout-web:assets:files"]')).to_have_count(1)
    expect(page.locator('a.port[data-port="checkout-web:assets"]')).to_have_count(0)
    assert Deployment.objects.get(pk=web.pk).connections["assets"] == str(files.pk)
    assert network.pk  # still the environment's default network, untouched
