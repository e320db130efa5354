"""Someone changes a database in the sandbox console; the developer checks for drift on the deployment page,
sees the difference beside what Slipway applied, and reverts it."""

import re

import pytest
from playwright.sync_api import expect

from deployments import services
from portal.sandbox.models import Resource
from tests.conftest import PASSWORD, wait_for_run
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_a_change_in_the_sandbox_console_is_seen_on_the_deployment_page_and_reverted(
    celery_worker, page, dev, catalog, proto_env
):
    deployment = services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["postgres"],
        params={"size": "small", "storage_gb": 20},
        actor=dev,
    )
    assert wait_for_run(deployment.runs.get()).status == "succeeded"
    deployment.refresh_from_db()
    server = Resource.objects.get(pk=deployment.outputs["database_id"])
    login(page, "dev", PASSWORD)

    # In the console, as someone clicking in a cloud console would.
    page.goto(server.get_absolute_url())
    page.locator("#id_storage_gb").fill("50")
    page.get_by_role("button", name="Apply changes").click()
    expect(page.locator('td[data-attribute="storage_gb"]')).to_contain_text("50")

    page.goto(deployment.get_absolute_url())
    live = page.locator("#live")
    expect(live).to_contain_text("No drift check has read this deployment yet")
    live.get_by_role("button", name="Check for drift").click()
    # The fragment follows the check by itself, and the status badge with it.
    expect(live).to_contain_text("Drifted.", timeout=60000)
    expect(page.locator("#dep-status")).to_have_text(re.compile("Drifted"))
    row = live.locator('tr[data-attribute="storage_gb"]')
    expect(row).to_have_class(re.compile("drifted"))
    expect(row.locator("td.cloud")).to_have_text("50")
    expect(row.locator("td.applied")).to_contain_text("20")
    expect(row.locator("td.applied")).to_contain_text("changed outside Slipway")
    expect(live.locator('tr[data-attribute="password"] td.cloud')).to_contain_text("sensitive")

    live.get_by_label("Why revert?").fill("nobody asked for 50")
    live.get_by_role("button", name="Revert").click()
    expect(page).to_have_url(re.compile(r"/deployments/runs/\d+/"))
    expect(page.locator(".log")).to_contain_text("Apply complete!", timeout=60000)
    assert Resource.objects.get(pk=server.pk).attributes["storage_gb"] == 20

    # Back on the deployment: a check after the revert reads the cloud in line again.
    page.goto(deployment.get_absolute_url())
    expect(page.locator("#live")).to_contain_text("The cloud holds what Slipway applied.", timeout=60000)
    expect(page.locator("#dep-status")).to_have_text(re.compile("Live"))
    expect(page.locator('#live tr[data-attribute="storage_gb"] td.cloud')).to_have_text("20")
