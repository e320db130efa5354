"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server."""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("SLIPWAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (make test does it as root)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, tmp_path):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    if os.environ.get("CI") and hasattr(page, "url"):
        page.screenshot(path=str(tmp_path / "last.png"))
    context.close()


def login(page, username, password):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def greeter_changed_last_night(*, catalog, environment, dev, teammate):
    """A workbench deployment ``greeter``: deployed by ``dev`` ("hello"), then changed by ``teammate`` to
    "broken" (the change a developer paged at night looks for); both runs applied by the real worker."""
    from deployments import services
    from deployments.models import Deployment
    from tests.conftest import wait_for_run

    greeter = services.deployment_create(
        environment=environment,
        name="greeter",
        bundle_version=catalog["workbench"],
        params={"message": "hello"},
        actor=dev,
        reason="first greeter",
    )
    assert wait_for_run(greeter.runs.get()).status == "succeeded"
    change = services.deployment_update(
        deployment=Deployment.objects.get(pk=greeter.pk),
        params={"message": "broken"},
        actor=teammate,
        reason="friendlier greeting",
    )
    assert wait_for_run(change).status == "succeeded"
    return Deployment.objects.get(pk=greeter.pk)
