"""The catalog answers as you type, and its category links narrow it (issue 19's rough edges)."""

import re

import pytest
from playwright.sync_api import expect

from bundles.models import Bundle
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_the_catalog_search_answers_as_you_type_and_categories_narrow_it(page, dev, catalog):
    Bundle.objects.filter(name="queue-rjsf").update(category="Rjsf samples")
    login(page, "dev", PASSWORD)
    page.goto("/catalog/")
    page.evaluate("window.__same_page = true")
    cards = page.locator("article.bundle-card")
    total = cards.count()
    assert total > 2
    page.get_by_role("searchbox", name="Search bundles").press_sequentially("queue-rj")  # no Enter
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("queue-rjsf")
    assert page.evaluate("window.__same_page") is True  # answered without a page load
    expect(page).to_have_url(re.compile(r"q=queue-rj"))
    page.get_by_role("searchbox", name="Search bundles").fill("")
    expect(cards).to_have_count(total)

    categories = page.get_by_role("navigation", name="Categories")
    categories.get_by_role("link", name="Rjsf samples").click()
    expect(cards).to_have_count(1)
    expect(categories.get_by_role("link", name="Rjsf samples")).to_have_attribute("aria-current", "page")
    page.get_by_role("searchbox", name="Search bundles").press_sequentially("nothing-like-it")
    expect(page.get_by_text("No bundle matches “nothing-like-it” in Rjsf samples.")).to_be_visible()
