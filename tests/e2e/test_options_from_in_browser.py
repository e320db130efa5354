"""x-options-from in a browser: the subnet choices follow the network picked in the connection's select (htmx
redraws the params), and the deployment is saved with a subnet of that network."""

import pytest
from playwright.sync_api import expect

from deployments.models import Deployment
from tests.conftest import PASSWORD
from tests.deployments.test_connection_options import network
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_the_subnet_choices_follow_the_network_picked(page, dev, catalog, proto_env):
    network(proto_env, catalog, "main-net", dev)
    other = network(proto_env, catalog, "other-net", dev, second=1)
    login(page, "dev", PASSWORD)
    page.goto(f"/deployments/new/placed/?environment={proto_env.pk}")
    subnet = page.get_by_role("group", name="Subnet")
    expect(subnet.get_by_label("10.0.16.0/20")).to_be_visible()
    expect(page.get_by_text("The choices come from main-net (Network).")).to_be_visible()

    page.get_by_label("Network").select_option(str(other.pk))
    expect(page.get_by_text("The choices come from other-net (Network).")).to_be_visible()
    expect(subnet.get_by_label("10.0.16.0/20")).to_have_count(0)
    subnet.get_by_label("10.1.16.0/20").check()
    page.locator("#id_name").fill("api")
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("h1").first).to_contain_text("api")
    api = Deployment.objects.get(name="api")
    assert api.connections == {"network": str(other.pk)} and api.params["subnet"] == "other-net-b"
