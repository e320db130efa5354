"""The deployment page's tabs in a browser: ARIA tabs with arrow keys, each tab its own address, the status,
the last change and its Restore in view on every tab, and plain links that work without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import greeter_changed_last_night, login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

TABS = ["Overview", "Runs", "Configuration and history", "Outputs", "Runbook"]


@pytest.fixture
def greeter(celery_worker, dev, teammate, catalog, proto_env):
    catalog["workbench"].runbook = "## When it pages\nRestore the last configuration."
    catalog["workbench"].save(update_fields=["runbook"])
    return greeter_changed_last_night(catalog=catalog, environment=proto_env, dev=dev, teammate=teammate)


def in_view(page, locator):
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_the_tabs_answer_arrow_keys_and_keep_the_status_and_restore_in_view(page, greeter):
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, "dev", PASSWORD)
    page.goto(greeter.get_absolute_url())
    tablist = page.get_by_role("tablist", name="Sections of this deployment")
    expect(tablist.get_by_role("tab")).to_have_text(TABS)
    overview = tablist.get_by_role("tab", name="Overview")
    expect(overview).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel", name="Overview")).to_be_visible()
    expect(page.get_by_role("tabpanel", name="Runs")).to_be_hidden()

    # One tab stop; arrows move along the tabs and open each, and the address follows.
    overview.focus()
    page.keyboard.press("ArrowRight")
    runs_tab = tablist.get_by_role("tab", name="Runs")
    expect(runs_tab).to_be_focused()
    expect(runs_tab).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(re.compile(r"\?tab=runs$"))
    runs = page.get_by_role("tabpanel", name="Runs")
    expect(runs.get_by_role("table")).to_contain_text("friendlier greeting")
    expect(page.get_by_role("tabpanel", name="Overview")).to_be_hidden()
    page.keyboard.press("End")
    expect(tablist.get_by_role("tab", name="Runbook")).to_be_focused()
    page.keyboard.press("ArrowRight")  # wraps round
    expect(overview).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(tablist.get_by_role("tab", name="Runbook")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Tab")  # into the open panel
    expect(page.get_by_role("tabpanel", name="Runbook")).to_be_focused()

    # On every tab, the status, who changed it last and why, and the way back are in view without scrolling.
    for name in TABS:
        tablist.get_by_role("tab", name=name).click()
        expect(page.get_by_role("tabpanel", name=name)).to_be_visible()
        page.evaluate("window.scrollTo(0, 0)")
        assert in_view(page, page.locator("#dep-status")), name
        assert in_view(page, page.get_by_text("friendlier greeting").first), name
        assert in_view(page, page.get_by_role("link", name="Restore the configuration before it…")), name

    # An output's Copy button puts its value on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    tablist.get_by_role("tab", name="Outputs").click()
    value = page.locator('[data-output="name"]').inner_text().strip()
    assert value
    copy = page.get_by_role("button", name="Copy name")
    copy.click()
    expect(page.locator('button[data-copy="output-name"]')).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == value

    # A tab's address opens that tab; a link to a section inside a closed tab opens its tab.
    page.goto(greeter.get_absolute_url() + "?tab=outputs")
    expect(tablist.get_by_role("tab", name="Outputs")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel", name="Outputs")).to_be_visible()
    page.goto(greeter.get_absolute_url() + "?tab=runs#live")
    expect(page.get_by_role("tabpanel", name="Overview")).to_be_visible()
    expect(page.locator("#live")).to_be_visible()


def test_without_javascript_each_tab_is_a_link_to_its_page(browser, live_server, greeter):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, "dev", PASSWORD)
        page.goto(greeter.get_absolute_url())
        sections = page.get_by_role("navigation", name="Sections of this deployment")
        sections.get_by_role("link", name="Runs").click()
        expect(page).to_have_url(re.compile(r"\?tab=runs$"))
        expect(page.locator("#runs table")).to_contain_text("friendlier greeting")
        expect(page.locator("#runs table")).to_be_visible()
        expect(page.locator("#overview")).to_be_hidden()
        expect(sections.get_by_role("link", name="Runs")).to_have_attribute("aria-current", "page")
        sections.get_by_role("link", name="Configuration and history").click()
        expect(page.locator("#configuration")).to_contain_text("Configuration changed")
        expect(page.locator("#configuration")).to_be_visible()
    finally:
        context.close()
