"""A developer signs in, deploys object storage from the catalog, and watches it go live."""

import re

import pytest
from playwright.sync_api import expect

from deployments.models import Deployment
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_a_developer_deploys_object_storage_from_the_catalog(celery_worker, page, dev, catalog, proto_env):
    login(page, "dev", PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    card = page.locator("article.bundle-card", has_text="object-storage")
    card.get_by_role("link", name="Deploy").click()

    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    page.get_by_label("Name").fill("assets")
    prototype = next(p["name"] for p in catalog["object-storage"].presets if p["name"].startswith("Prototype"))
    page.get_by_label("Start from a preset").select_option(label=prototype)
    expect(page.get_by_text(f"Filled from preset {prototype}")).to_be_visible()
    page.get_by_role("button", name="Deploy").click()

    expect(page.get_by_role("heading", name=re.compile("assets"))).to_be_visible()
    # The page follows the run by itself (htmx polling) until the deployment is live.
    expect(page.locator("#dep-status")).to_have_text(re.compile("Live"), timeout=60000)
    expect(page.locator(".log")).to_contain_text("Apply complete!")
    page.get_by_role("tab", name="Outputs").click()
    expect(page.locator('[data-output="bucket_name"]')).to_contain_text("checkout-proto-assets")
    expect(page.locator('[data-output="bucket_name"]')).to_be_visible()

    deployment = Deployment.objects.get(name="assets")
    assert deployment.status == "live"
    preset = next(p for p in catalog["object-storage"].presets if p["name"] == prototype)
    assert deployment.params == preset["params"]


def test_the_pages_follow_a_slow_run_to_its_end_and_a_plan_to_its_review(celery_worker, page, dev, catalog, proto_env):
    from deployments import services

    login(page, "dev", PASSWORD)
    slow = services.deployment_create(
        environment=proto_env,
        name="slow",
        bundle_version=catalog["workbench"],
        params={"message": "slowly", "sleep_seconds": 4},
        actor=dev,
    )
    page.goto(slow.get_absolute_url())
    # Several polls happen while the apply sleeps; the page must keep following until the end.
    expect(page.locator("#dep-status")).to_have_text(re.compile("Live"), timeout=60000)
    expect(page.locator(".log")).to_contain_text("Apply complete!")

    review = services.deployment_update(
        deployment=Deployment.objects.get(pk=slow.pk),
        params={"message": "reviewed", "sleep_seconds": 0},
        actor=dev,
        auto_apply=False,
    )
    page.goto(review.get_absolute_url())
    # The run stops at its plan: the page offers to apply it without a reload.
    expect(page.get_by_role("button", name="Apply this plan")).to_be_visible(timeout=60000)
    page.get_by_role("button", name="Apply this plan").click()
    expect(page.locator(".run-status")).to_contain_text(re.compile("Succeeded"), timeout=60000)
