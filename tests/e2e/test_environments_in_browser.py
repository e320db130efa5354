"""Issue 15's browser acceptance: fork an environment from its page, fill the value that is not copied,
deploy the fork, and watch its levels complete on its page and its diagram."""

import re

import pytest
from playwright.sync_api import expect

from deployments import services
from deployments.models import Deployment, Environment
from tests.conftest import PASSWORD, wait_for_run
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_fork_an_environment_fill_its_secret_and_deploy_it_level_by_level(celery_worker, page, dev, catalog, proto_env):
    db = services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["datastore"],
        params={"password": "staging-pw-1"},
        actor=dev,
    )
    wait_for_run(db.runs.get(), timeout=180)
    shop = services.deployment_create(
        environment=proto_env,
        name="shop",
        bundle_version=catalog["webapp"],
        params={},
        actor=dev,
        connections={"database": "orders-db"},
    )
    wait_for_run(shop.runs.get(), timeout=180)

    login(page, "dev", PASSWORD)
    page.goto(f"/deployments/environments/{proto_env.pk}/canvas/")
    page.get_by_role("link", name="Fork…").click()
    page.get_by_label("Environment slug").fill("pr-9")
    page.get_by_label("orders-db \u203a password").fill("browser-pw-1")
    page.get_by_role("button", name="Fork").click()

    expect(page.get_by_text("checkout/pr-9 forked from checkout/proto: 2 draft deployments.")).to_be_visible()
    fork = Environment.objects.get(slug="pr-9")
    assert Deployment.objects.get(environment=fork, name="orders-db").full_params() == {"password": "browser-pw-1"}
    expect(page.locator('a.node[data-status="draft"]')).to_have_count(2)

    page.get_by_role("button", name="Deploy all").click()
    # The page follows the environment run by itself (htmx) until both levels are done.
    expect(page.locator(".env-run")).to_have_attribute("data-status", "succeeded", timeout=120000)
    expect(page.locator('.env-level[data-status="succeeded"]')).to_have_count(2)
    expect(page.locator('a.node[data-status="live"][data-step="succeeded"]')).to_have_count(2)
    expect(page.locator(".env-run-message")).to_have_text(re.compile("All 2 deployments deployed, in 2 levels."))
