"""The new-deployment form by keyboard alone: every control in order with a visible focus ring, focus kept
on the right control through each htmx redraw, and a failed submit that leads to its errors."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

# What the focused element is, in words that survive a redraw (a radio by its value, not its position).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "body";
  const what = el.name ? el.name + (el.type === "radio" ? "=" + el.value : "") : el.id || el.textContent.trim();
  return el.tagName.toLowerCase() + ":" + what;
}"""

# The focus ring of the focused element: a solid outline of at least 2 px, or nothing.
RING = """() => {
  const s = getComputedStyle(document.activeElement);
  return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2 ? s.outlineColor : null;
}"""

# Every control a keyboard user should reach in the form, in document order (a radio group once).
REACHABLE = """() => {
  const form = document.getElementById("deploy-form");
  const seen = new Set();
  const out = [];
  for (let el of form.querySelectorAll("input, select, textarea, button, a[href]")) {
    if (el.type === "hidden" || el.disabled || el.tabIndex < 0 || !el.getClientRects().length) continue;
    if (el.type === "radio") {
      if (seen.has(el.name)) continue;
      seen.add(el.name);
      const group = form.querySelectorAll(`input[type=radio][name="${CSS.escape(el.name)}"]`);
      el = Array.from(group).find((r) => r.checked) || el;
    }
    const what = el.name ? el.name + (el.type === "radio" ? "=" + el.value : "") : el.id || el.textContent.trim();
    out.push(el.tagName.toLowerCase() + ":" + what);
  }
  return out;
}"""


def settle(page):
    expect(page.locator(".htmx-request")).to_have_count(0)
    page.wait_for_load_state("networkidle")


def focused(page) -> str:
    return page.evaluate(FOCUSED)


def tab_through(page, last: str) -> list[str]:
    """Tab from the form's first control to ``last``, checking the focus ring on each stop."""
    page.locator("#id_environment").focus()
    order = [focused(page)]
    while order[-1] != last and len(order) < 60:
        page.keyboard.press("Tab")
        order.append(focused(page))
        assert page.evaluate(RING), f"no visible focus ring on {order[-1]}"
    return order


def test_every_control_is_reached_in_order_with_a_focus_ring(page, dev, catalog, proto_env):
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/form-tour/")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    settle(page)
    # Rows, a variant's fields and a condition's radios drawn, so that every kind of control is in the tour.
    page.get_by_role("button", name="Add to routes").click()
    expect(page.locator('[name="param/routes/0/path"]')).to_be_visible()
    page.get_by_label("Authentication").select_option(label="Bearer token")
    expect(page.get_by_label("Token lifetime")).to_be_visible()
    page.get_by_label("High availability").check()
    expect(page.get_by_role("radio", name="zone-b")).to_be_visible()
    settle(page)

    expected = page.evaluate(REACHABLE)
    order = tab_through(page, expected[-1])
    assert order == expected
    for control in ("input:param/routes/0/port", "select:_variant/auth", "input:param/standby_zone=zone-a"):
        assert any(stop.startswith(control.split("=")[0]) for stop in order), control


def test_focus_stays_on_the_control_in_use_through_each_redraw(page, dev, catalog, proto_env):
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/form-tour/")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    settle(page)

    # Adding a row by keyboard lands on the new row's first field.
    page.get_by_role("button", name="Add to routes").focus()
    page.keyboard.press("Enter")
    expect(page.locator('[name="param/routes/0/path"]')).to_be_focused()
    page.keyboard.type("/a")
    page.get_by_role("button", name="Add to routes").focus()
    page.keyboard.press("Enter")
    expect(page.locator('[name="param/routes/1/path"]')).to_be_focused()
    page.keyboard.type("/b")

    # Removing a row lands on the row that took its place, and the last row's removal on Add.
    page.get_by_role("button", name="Remove routes item 1").focus()
    page.keyboard.press("Enter")
    expect(page.locator('[name="param/routes/1/path"]')).to_have_count(0)
    expect(page.locator('[name="param/routes/0/path"]')).to_be_focused()
    expect(page.locator('[name="param/routes/0/path"]')).to_have_value("/b")
    page.get_by_role("button", name="Remove routes item 1").focus()
    page.keyboard.press("Enter")
    expect(page.locator('[name="param/routes/0/path"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Add to routes")).to_be_focused()

    # A variant switched keeps focus on its selector, and the next Tab goes into its fields. (Headless
    # Chromium's closed <select> ignores arrow keys, so the option is picked as the keyboard would pick it:
    # on the focused selector, one change event.)
    page.get_by_label("Authentication").focus()
    page.get_by_label("Authentication").select_option(label="Bearer token")
    expect(page.get_by_label("Token lifetime")).to_be_visible()
    settle(page)
    expect(page.get_by_label("Authentication")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Token lifetime")).to_be_focused()

    # Radios: each arrow key moves one option and focus stays on the checked one after its redraw.
    page.get_by_label("High availability").focus()
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name="zone-a")).to_be_visible()
    settle(page)
    expect(page.get_by_label("High availability")).to_be_focused()
    page.get_by_role("radio", name="zone-a").focus()
    page.keyboard.press("Space")
    settle(page)
    assert focused(page) == "input:param/standby_zone=zone-a"
    page.keyboard.press("ArrowDown")
    settle(page)
    expect(page.get_by_role("radio", name="zone-b")).to_be_checked()
    assert focused(page) == "input:param/standby_zone=zone-b"
    page.keyboard.press("ArrowDown")
    settle(page)
    expect(page.get_by_role("radio", name="zone-c")).to_be_checked()
    assert focused(page) == "input:param/standby_zone=zone-c"


def test_a_failed_submit_moves_focus_to_a_summary_that_links_to_each_field(page, dev, catalog, proto_env):
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/form-tour/")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    settle(page)
    page.locator("#id_name").fill("Bad Name!")
    page.get_by_label("Disk size").fill("5")
    page.get_by_label("Service name").focus()
    settle(page)
    page.get_by_role("button", name="Deploy").focus()
    page.keyboard.press("Enter")

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(summary).to_have_attribute("role", "alert")
    links = summary.get_by_role("link")
    texts = links.all_inner_texts()
    assert any(t.startswith("Name") for t in texts), texts
    assert any(t.startswith("Disk size") for t in texts), texts
    assert any(t.startswith("Service name") for t in texts), texts  # required, left empty

    # Each link takes focus to its field, whose error the screen reader hears with it.
    for text, control in (("Name", "#id_name"), ("Disk size", "#f-storage-size_gb"), ("Service name", "#f-name")):
        summary.focus()
        links.filter(has_text=re.compile("^" + text)).first.focus()
        page.keyboard.press("Enter")
        expect(page.locator(control)).to_be_focused()
        expect(page.locator(control)).to_have_attribute("aria-invalid", "true")
        described = page.locator(control).get_attribute("aria-describedby")
        assert described, control
        assert any(page.locator("#" + ref).count() for ref in described.split())
