"""A developer fills a rich form by keyboard and mouse: a section, rows, a variant and a conditional field."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from deployments.models import Deployment
from tests.conftest import PASSWORD, wait_for_run
from tests.deployments.test_connections import create, live
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def settle(page):
    """Wait until no htmx request is in flight."""
    # A locator, not wait_for_function: the Content-Security-Policy forbids the eval a string predicate needs.
    expect(page.locator(".htmx-request")).to_have_count(0)
    page.wait_for_load_state("networkidle")


def test_a_developer_fills_a_nested_form_and_the_deployment_goes_live_with_exactly_those_params(
    celery_worker, page, dev, catalog, proto_env
):
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/form-tour/")
    # redraws the params for its policy
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    page.locator("#id_name").fill("tour")
    page.get_by_label("Service name").fill("tour-svc")

    # A nested section.
    storage = page.locator("fieldset", has=page.locator("legend", has_text="Storage"))
    storage.get_by_label("Disk size").fill("40")

    # An array of objects: two rows added without a page reload, then the first removed.
    page.evaluate("window.__same_page = true")
    page.get_by_role("button", name="Add to routes").click()
    expect(page.locator('[name="param/routes/0/path"]')).to_be_visible()
    page.locator('[name="param/routes/0/path"]').fill("/a")
    page.locator('[name="param/routes/0/port"]').fill("8080")
    page.get_by_role("button", name="Add to routes").click()
    expect(page.locator('[name="param/routes/1/path"]')).to_be_visible()
    page.locator('[name="param/routes/1/path"]').fill("/b")
    page.locator('[name="param/routes/1/port"]').fill("8081")
    page.get_by_role("button", name="Remove routes item 1").click()
    expect(page.locator('[name="param/routes/1/path"]')).to_have_count(0)
    expect(page.locator('[name="param/routes/0/path"]')).to_have_value("/b")

    # A oneOf variant switch swaps in its sub-form.
    page.get_by_label("Authentication").select_option(label="Bearer token")
    expect(page.get_by_label("Token lifetime")).to_be_visible()
    page.get_by_label("Token lifetime").fill("12")

    # A conditional field appears when its condition holds; chosen by keyboard.
    expect(page.get_by_text("Standby zone")).to_have_count(0)
    page.get_by_label("High availability").focus()
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name="zone-b")).to_be_visible()
    page.get_by_role("radio", name="zone-b").check()

    # Live validation speaks before submit, in the same words.
    page.get_by_label("Disk size").fill("5")
    page.get_by_label("Service name").focus()
    expect(page.locator("#f-storage-size_gb-wrap")).to_contain_text("Must be at least 10.")
    page.get_by_label("Disk size").fill("40")
    page.get_by_label("Service name").focus()
    expect(page.locator("#f-storage-size_gb-wrap .errors")).to_have_count(0)
    assert page.evaluate("window.__same_page") is True  # every change above happened without a page load

    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_role("heading", name=re.compile("tour"))).to_be_visible()
    deployment = Deployment.objects.get(name="tour")
    # Following a run live is test_deploy_in_browser's subject; here the run is awaited, then the page read.
    assert wait_for_run(deployment.runs.get()).status == "succeeded"
    page.reload()
    expect(page.locator("#dep-status")).to_have_text(re.compile("Live"))

    deployment.refresh_from_db()
    assert deployment.status == "live"
    assert deployment.params == {
        "name": "tour-svc",
        "storage": {"size_gb": 40, "encrypted": True},
        "routes": [{"path": "/b", "port": 8081}],
        "auth": {"kind": "token", "token_ttl_hours": 12},
        "high_availability": True,
        "standby_zone": "zone-b",
    }


@pytest.fixture
def slow_redraws(monkeypatch):
    """Make every answer of the form engine take most of a second, as on a busy server."""
    import time

    import bundles.views

    checked = bundles.views.param_errors

    def slowly(*args, **kwargs):
        time.sleep(0.8)
        return checked(*args, **kwargs)

    return lambda: monkeypatch.setattr(bundles.views, "param_errors", slowly)


def test_what_a_developer_does_while_a_redraw_is_on_its_way_is_kept(page, dev, catalog, proto_env, slow_redraws):
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/form-tour/")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    for index, (path, port) in enumerate((("/a", "8080"), ("/b", "8081"), ("/c", "8082"))):
        page.get_by_role("button", name="Add to routes").click()
        expect(page.locator(f'[name="param/routes/{index}/path"]')).to_be_visible()
        page.locator(f'[name="param/routes/{index}/path"]').fill(path)
        page.locator(f'[name="param/routes/{index}/port"]').fill(port)
    page.locator("#id_name").fill("patient")  # leaving the last port validates it: let that answer land
    settle(page)
    slow_redraws()

    # While the redraw asked for by "High availability" is on its way: text typed, a variant picked, a row added.
    page.get_by_label("High availability").check()
    page.get_by_label("Service name").fill("typed-meanwhile")
    page.get_by_label("Authentication").select_option(label="Bearer token")
    page.get_by_role("button", name="Add to routes").click()
    expect(page.get_by_role("radio", name="zone-b")).to_be_visible()  # the first answer landed
    expect(page.get_by_label("Service name")).to_have_value("typed-meanwhile")
    expect(page.get_by_label("Authentication")).to_have_value(re.compile("."))
    expect(page.get_by_label("Token lifetime")).to_be_visible(timeout=10000)
    expect(page.locator('[name="param/routes/3/path"]')).to_be_visible(timeout=10000)
    settle(page)

    # A removal shifts the rows after it up: an edit made meanwhile follows its row, a second removal too.
    page.get_by_role("button", name="Remove routes item 1").click()  # /a
    page.locator('[name="param/routes/2/path"]').fill("/c-edited")
    page.get_by_role("button", name="Remove routes item 2").click()  # /b, which becomes item 1
    expect(page.locator('[name="param/routes/2/path"]')).to_have_count(0, timeout=10000)
    settle(page)
    assert page.locator(".row-list > li").count() == 2
    expect(page.locator('[name="param/routes/0/path"]')).to_have_value("/c-edited")
    expect(page.locator('[name="param/routes/1/path"]')).to_have_value("")
    expect(page.get_by_label("Service name")).to_have_value("typed-meanwhile")


def test_a_removal_that_fails_says_so_and_what_waited_keeps_its_row(page, dev, catalog, proto_env, monkeypatch):
    import time

    import bundles.views

    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/form-tour/")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    for index, path in enumerate(("/a", "/b", "/c")):
        page.get_by_role("button", name="Add to routes").click()
        expect(page.locator(f'[name="param/routes/{index}/path"]')).to_be_visible()
        page.locator(f'[name="param/routes/{index}/path"]').fill(path)
    page.locator("#id_name").fill("failing")
    settle(page)

    removals = []
    remove_row = bundles.views.remove_row

    def first_removal_fails(params, pointer):
        removals.append(pointer)
        time.sleep(0.8)
        if len(removals) in (1, 3):
            raise RuntimeError("the server fell over")
        return remove_row(params, pointer)

    monkeypatch.setattr(bundles.views, "remove_row", first_removal_fails)
    page.get_by_role("button", name="Remove routes item 1").click()  # fails
    page.get_by_role("button", name="Remove routes item 3").click()  # waits, then removes /c: nothing shifted
    expect(page.locator('[name="param/routes/2/path"]')).to_have_count(0, timeout=10000)
    settle(page)
    assert removals == ["/routes/0", "/routes/2"]
    assert [page.locator(f'[name="param/routes/{i}/path"]').input_value() for i in (0, 1)] == ["/a", "/b"]
    # A failure with nothing waiting behind it stays on screen, where the verdict is.
    page.get_by_role("button", name="Remove routes item 2").click()
    expect(page.locator("#params-summary")).to_contain_text("could not be redrawn (the server answered 500)")
    assert page.locator(".row-list > li").count() == 2


def web_service_form_with_slow_presets(page, catalog, monkeypatch, name: str, environments=()) -> dict:
    """The web-service form in Prototype, named, with every preset taking most of a second to draw;
    returns the Production preset. Each of ``environments`` gets a live network and database to connect to."""
    import time

    import deployments.views

    actor = get_user_model().objects.get(username="dev")
    for environment in environments:
        specs = {"network_id": f"net-{environment.slug}", "cidr_block": "10.0.0.0/16"}
        live(create(environment, catalog, "network", "main-net", actor), specs=specs)
        live(create(environment, catalog, "postgres", "main-db", actor))
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/web-service/")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    page.locator("#id_name").fill(name)
    settle(page)
    drawn = deployments.views.initial_values

    def slowly(*args, **kwargs):
        time.sleep(0.8)
        return drawn(*args, **kwargs)

    monkeypatch.setattr(deployments.views, "initial_values", slowly)
    return next(p for p in catalog["web-service"].presets if p["name"].startswith("Production"))


def test_deploy_pressed_while_a_preset_is_being_applied_sends_the_preset(page, dev, catalog, proto_env, monkeypatch):
    production = web_service_form_with_slow_presets(page, catalog, monkeypatch, "rush", [proto_env])
    page.get_by_label("Start from a preset").select_option(label=production["name"])
    page.get_by_role("button", name="Deploy").click()  # before the preset has landed
    expect(page.get_by_role("heading", name=re.compile("rush"))).to_be_visible(timeout=15000)
    assert Deployment.objects.get(name="rush").params == production["params"]
    assert set(Deployment.objects.get(name="rush").connections) == {"network", "database"}


def test_a_preset_overtaken_by_an_environment_change_is_still_applied(
    page, dev, catalog, proto_env, prod_env, monkeypatch
):
    production = web_service_form_with_slow_presets(page, catalog, monkeypatch, "overtaken", [proto_env, prod_env])
    page.get_by_label("Start from a preset").select_option(label=production["name"])
    page.get_by_label("Environment").select_option(label="checkout/production")  # cancels the preset's answer
    expect(page.get_by_text(f"Filled from preset {production['name']}")).to_be_visible(timeout=10000)
    settle(page)
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_role("heading", name=re.compile("overtaken"))).to_be_visible(timeout=15000)
    assert Deployment.objects.get(name="overtaken").params == production["params"]
