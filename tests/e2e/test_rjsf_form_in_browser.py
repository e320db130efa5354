"""An rjsf-style schema in a real browser: draft-07 without ``$schema``, dynamic dependencies keyed by an enum
and by a const, rjsf ui hints. Choosing a branch shows its fields; a wrong dependent field is refused
beside that field, not on the field that controls it."""

import re

import pytest
from playwright.sync_api import expect

from deployments.models import Deployment
from tests.conftest import PASSWORD
from tests.e2e.conftest import login
from tests.e2e.test_form_engine_in_browser import settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_a_dynamic_dependency_branch_appears_and_its_error_lands_beside_the_field_at_fault(
    page, dev, catalog, proto_env
):
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/queue-rjsf/")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    page.locator("#id_name").fill("orders-queue")
    expect(page.get_by_label("Queue name")).to_have_value("jobs")  # the default
    # Typing as the environment's redraw lands is the next test's subject; this one is about dependencies.
    settle(page)
    page.get_by_label("Queue name").fill("orders")
    page.evaluate("window.__same_page = true")

    # Neither branch's fields are drawn before their controlling value is chosen.
    expect(page.get_by_label("Deduplication window")).to_have_count(0)
    expect(page.get_by_label("Receives before dead-lettering")).to_have_count(0)

    # rjsf's enumNames label the radios; choosing FIFO draws its branch. Its optional boolean with no
    # default is Yes / No / Not set, left at Not set.
    page.get_by_role("radio", name="First in, first out").check()
    expect(page.get_by_label("Deduplication window")).to_be_visible()
    content_based = page.get_by_role("group", name="Deduplicate by content")
    expect(content_based.get_by_role("radio", name="Not set")).to_be_checked()
    page.get_by_label("Dead-letter queue").select_option("Yes")
    expect(page.get_by_label("Receives before dead-lettering")).to_be_visible()
    expect(page.get_by_label("Receives before dead-lettering")).to_have_attribute("placeholder", "5")  # ui:placeholder
    assert page.evaluate("window.__same_page") is True  # both branches were drawn without a page load

    # One dependent field wrong, the other right: the error is beside the wrong one only.
    page.get_by_label("Deduplication window").fill("5")
    page.get_by_label("Receives before dead-lettering").fill("3")
    page.get_by_role("button", name="Deploy").click()
    # The refused submit's answer, not the live check already on the page: only that answer has the summary.
    expect(page.locator("#error-summary")).to_contain_text("Must be at least 60.")
    wrong = page.locator("#f-dedup_window_s-wrap")
    expect(wrong.locator(".errors")).to_contain_text("Must be at least 60.")
    expect(page.locator("#f-delivery-wrap .errors")).to_have_count(0)
    expect(page.locator("#f-dead_letter-wrap .errors")).to_have_count(0)
    expect(page.locator("#f-max_receives-wrap .errors")).to_have_count(0)
    assert not Deployment.objects.filter(name="orders-queue").exists()

    # What was chosen and typed is all still there; fixing the one field deploys exactly these params.
    expect(page.get_by_role("radio", name="First in, first out")).to_be_checked()
    expect(page.get_by_label("Receives before dead-lettering")).to_have_value("3")
    page.get_by_label("Deduplication window").fill("120")
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_role("heading", name=re.compile("orders-queue"))).to_be_visible()
    deployment = Deployment.objects.get(name="orders-queue")
    assert deployment.params == {
        "name": "orders",
        "delivery": "fifo",
        "dead_letter": "Yes",
        "dedup_window_s": 120,
        "max_receives": 3,
    }


@pytest.fixture
def slow_environment_redraws(monkeypatch):
    """Make the new-deployment page's answer to another environment take most of a second."""
    import time

    import deployments.views

    drawn = deployments.views._params_context

    def slowly(*args, **kwargs):
        time.sleep(0.8)
        return drawn(*args, **kwargs)

    return lambda: monkeypatch.setattr(deployments.views, "_params_context", slowly)


def test_a_field_selected_as_a_redraw_lands_takes_exactly_what_is_typed(
    page, dev, catalog, proto_env, slow_environment_redraws
):
    """Issue 19: a text field selected while the environment's redraw was on its way, typed into as it lands.

    htmx puts the focus back on the redrawn field but drops a selection that starts at 0 (all of it): what
    was typed went in front of the default ("orders" + "jobs" = "ordersjobs")."""
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/queue-rjsf/")
    queue = page.get_by_label("Queue name")
    expect(queue).to_have_value("jobs")
    slow_environment_redraws()
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")  # its redraw takes ~1 s
    expect(page.locator(".htmx-request")).not_to_have_count(0)
    queue.click()
    page.keyboard.press("ControlOrMeta+a")  # all of "jobs", in the field the answer is about to replace
    settle(page)  # the answer lands
    page.keyboard.type("orders")
    expect(queue).to_have_value("orders")
    # Typed partly before it lands and partly after: one word, in order.
    page.get_by_label("Environment").select_option(label="— choose —")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    queue.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("bil")
    settle(page)
    page.keyboard.type("ling")
    expect(queue).to_have_value("billing")
