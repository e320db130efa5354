"""The 1 a.m. test: paged at night, a developer opens Slipway and, without help, finds the deployment that
changed last night, sees who changed it, why and what changed, and restores the previous configuration
within five clicks, with the plan review shown before anything is applied."""

import re

import pytest
from playwright.sync_api import expect

from deployments.models import Deployment
from tests.conftest import PASSWORD
from tests.e2e.conftest import greeter_changed_last_night, login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_a_developer_rolls_back_last_nights_change_in_five_clicks(
    celery_worker, page, dev, teammate, catalog, proto_env
):
    greeter = greeter_changed_last_night(catalog=catalog, environment=proto_env, dev=dev, teammate=teammate)

    login(page, "dev", PASSWORD)
    clicks = 0

    def click(locator):
        nonlocal clicks
        clicks += 1
        locator.click()

    # 1. The overview lists what changed recently.
    recent = page.get_by_role("region", name="Recently changed")
    click(recent.get_by_role("link", name=re.compile("greeter")))
    expect(page.get_by_role("heading", name=re.compile("greeter"))).to_be_visible()
    # 2. Its history: who, why, and what changed.
    click(page.get_by_role("link", name="History of every change"))
    newest = page.locator(".history-step.kind-configuration").first
    expect(newest).to_contain_text("teammate")
    expect(newest).to_contain_text("friendlier greeting")
    expect(newest).to_contain_text("broken")
    # 3. Restore the configuration before it: a preview says what the restore changes.
    before = page.locator(".history-step", has_text="first greeter").first
    click(before.get_by_role("link", name=re.compile("Restore this configuration")))
    changes = page.get_by_role("region", name="What the restore changes")
    expect(changes).to_contain_text("broken")
    expect(changes).to_contain_text("hello")
    page.get_by_label("Why restore?").fill("paged: greeting broke the checkout")
    expect(page.get_by_label("Let me review the plan before it is applied")).to_be_checked()
    # 4. Restore: the plan is shown for review before it is applied.
    click(page.get_by_role("button", name="Restore", exact=True))
    expect(page.get_by_role("heading", name="Review the plan")).to_be_visible(timeout=60000)
    assert Deployment.objects.get(pk=greeter.pk).runs.filter(status="succeeded").count() == 2  # nothing applied yet
    # 5. Apply the reviewed plan.
    click(page.get_by_role("button", name="Apply this plan"))
    expect(page.locator(".run-status .badge").first).to_have_text("Succeeded", timeout=60000)
    assert clicks <= 5
    restored = Deployment.objects.get(pk=greeter.pk)
    assert restored.params["message"] == "hello" and restored.status == "live"
