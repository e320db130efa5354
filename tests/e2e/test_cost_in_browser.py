"""The cost of a choice before it is made: the estimate and the difference from now follow the form's
values in the browser, before anything is submitted."""

import pytest
from playwright.sync_api import expect

from deployments import services
from deployments.models import Deployment
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_changing_the_size_updates_the_estimate_and_the_difference_before_submitting(page, dev, catalog, proto_env):
    login(page, "dev", PASSWORD)
    page.goto("/deployments/new/postgres/")
    page.get_by_label("Environment").select_option(label="checkout/proto (Prototype)")
    cost = page.locator("#params-cost")
    expect(cost).to_contain_text("≈ $54.30/month")
    page.get_by_role("radio", name="Large (4 vCPU, 32 GiB)").check()
    expect(cost).to_contain_text("≈ $309/month")
    page.get_by_label("Storage").fill("120")
    page.get_by_label("Storage").blur()
    expect(cost).to_contain_text("≈ $321/month")  # 300 + 120 GiB x 0.115 + 7 days of backups

    database = services.deployment_create(
        environment=proto_env, name="orders-db", bundle_version=catalog["postgres"], params={"size": "small"}, actor=dev
    )
    page.goto(f"/deployments/{database.pk}/edit/")
    expect(cost).to_contain_text("≈ $54.30/month, the same as now")
    page.get_by_role("radio", name="Medium (2 vCPU, 16 GiB)").check()
    expect(cost).to_contain_text("≈ $159/month, +$105 from now")
    page.get_by_label("High availability").check()
    expect(cost).to_contain_text("≈ $319/month, +$264 from now")
    assert Deployment.objects.get(pk=database.pk).params["size"] == "small"  # nothing was submitted
