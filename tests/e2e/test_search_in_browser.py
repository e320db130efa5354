"""The top bar's search by keyboard: "/" from anywhere but a field, type, Enter."""

import pytest
from playwright.sync_api import expect

from deployments.models import Deployment
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_slash_focuses_the_search_and_enter_finds_the_deployment(page, dev, catalog, proto_env):
    deployment = Deployment.objects.create(
        environment=proto_env, name="orders-db", bundle_version=catalog["postgres"], params={}, status="live"
    )
    login(page, "dev", PASSWORD)
    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search Slipway")
    expect(search).to_be_focused()
    page.keyboard.type("orders")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    page.get_by_role("link", name="orders-db").click()
    page.wait_for_url(f"**{deployment.get_absolute_url()}")

    # In a field, "/" is a character, not the shortcut.
    page.goto("/deployments/new/postgres/")
    page.locator("#id_name").focus()
    page.keyboard.type("a/b")
    expect(page.locator("#id_name")).to_have_value("a/b")
    expect(search).not_to_be_focused()
