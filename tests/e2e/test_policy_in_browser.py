"""Policy in the browser: a prototype offers only its sizes; in production a developer asks for an
exception, ops approve it in the UI, and the developer watches the run apply."""

import re

import pytest
from playwright.sync_api import expect

from deployments.policy import rules as policy
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def set_overlays(environment, overlays):
    current = policy.policy_for(environment)
    current.overlays = overlays
    current.save()


def test_an_exception_from_request_to_applied_run(
    celery_worker, browser, live_server, dev, ops, catalog, proto_env, prod_env
):
    set_overlays(proto_env, {"postgres": {"properties": {"size": {"enum": ["small", "medium"]}}}})
    set_overlays(
        prod_env,
        {"postgres": {"properties": {"size": {"enum": ["medium", "large"]}, "high_availability": {"const": True}}}},
    )
    developer = browser.new_context(base_url=live_server.url).new_page()
    developer.set_default_timeout(15000)
    login(developer, "dev", PASSWORD)
    developer.goto("/deployments/new/postgres/")

    # 1. Prototype: only the allowed sizes are offered.
    developer.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    hints = developer.locator("#policy-hints")
    expect(hints.get_by_text("checkout/proto allows only these for Size: Small")).to_be_visible()
    size = developer.locator("select[name='param/size'], input[name='param/size']").first
    values = developer.locator("[name='param/size'] option, input[name='param/size']").evaluate_all(
        "els => els.map(e => e.value).filter(v => v)"
    )
    assert sorted(values) == ["medium", "small"], values

    # 2. Production: ask for a size outside the policy, as an exception.
    developer.get_by_label("Environment").select_option(label="checkout/production")
    hints = developer.locator("#policy-hints")
    expect(hints.get_by_text("checkout/production requires high availability.")).to_be_visible()
    developer.locator("#id_name").fill("orders-db")
    developer.get_by_label(re.compile("Show choices outside this policy")).check()
    expect(
        developer.locator("[name='param/size'] option[value='xlarge'], input[name='param/size'][value='xlarge']")
    ).to_have_count(1)
    size = developer.locator("[name='param/size']").first
    if size.evaluate("e => e.tagName") == "SELECT":
        size.select_option("xlarge")
    else:
        developer.locator("input[name='param/size'][value='xlarge']").check()
    developer.get_by_role("button", name="Deploy").click()
    expect(developer.get_by_text("outside the policy of checkout/production")).to_be_visible()
    developer.get_by_label("Why do you need this?").fill("Black Friday load test needs the largest size for a week")
    developer.get_by_role("button", name="Request an exception").click()
    expect(developer.get_by_role("heading", name=re.compile("Exception #"))).to_be_visible()
    expect(developer.get_by_text("Waiting for platform ops to decide")).to_be_visible()
    exception_url = developer.url

    # 3. Ops approve it in the UI.
    approver = browser.new_context(base_url=live_server.url).new_page()
    approver.set_default_timeout(15000)
    login(approver, "ops", PASSWORD)
    approver.get_by_role("link", name=re.compile("Approvals")).click()
    approver.get_by_role("link", name=re.compile(r"#\d+")).first.click()
    expect(approver.get_by_text("Black Friday load test")).to_be_visible()
    approver.get_by_label("Comment").fill("one week, then back to large")
    approver.get_by_role("button", name="Approve and run").click()
    expect(approver.get_by_role("heading", name=re.compile(r"Run #\d+"))).to_be_visible()

    # 4. The developer sees the run apply.
    developer.goto(exception_url)
    expect(developer.get_by_text("one week, then back to large")).to_be_visible()
    developer.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(developer.locator(".run-status .badge")).to_have_text("Succeeded", timeout=60000)
    expect(developer.get_by_text(re.compile("Basis: Approved by exception #"))).to_be_visible()
