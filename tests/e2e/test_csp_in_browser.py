"""Every page runs under the Content-Security-Policy (htmx, static/js, the admin, Swagger UI), and an
injected inline script does not."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

INJECT = """() => new Promise((resolve) => {
  document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective), { once: true });
  const script = document.createElement("script");
  script.textContent = "window.__injected = true";
  document.body.appendChild(script);
  setTimeout(() => resolve("not blocked"), 2000);
})"""


def test_pages_work_under_the_policy_and_an_inline_script_is_blocked(page, catalog, proto_env):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    violations = []
    page.on("console", lambda m: violations.append((page.url, m.text)) if "Content Security Policy" in m.text else None)
    login(page, "root", PASSWORD)
    assert page.evaluate(INJECT).startswith("script-src")
    assert page.evaluate("window.__injected") is None
    violations.clear()

    # htmx and static/js: choosing a preset redraws the params form (an htmx request and swap).
    page.goto(reverse("deployments:new", args=["object-storage"]))
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    prototype = next(p["name"] for p in catalog["object-storage"].presets if p["name"].startswith("Prototype"))
    page.get_by_label("Start from a preset").select_option(label=prototype)
    expect(page.get_by_text(f"Filled from preset {prototype}")).to_be_visible()

    # The admin, with its own scripts (a change form has the most).
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Bundles, policies, teams and runs")).to_be_visible()
    page.goto("/admin/auth/user/add/")
    expect(page.locator("#user_form")).to_be_visible()

    # Swagger UI, served locally, draws the API from the schema.
    page.goto(reverse("api-docs"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Slipway API", timeout=20000)
    expect(page.locator(".opblock").first).to_be_visible()

    assert violations == []
