"""Cost where it helps decide: the form as values change, presets, the deployment page, the plan review,
held approvals and exception requests. Every figure comes from the bundle's cost model."""

import re

import pytest
from django.urls import reverse

from deployments import services
from deployments.choices import RunStatus
from deployments.models import Run
from deployments.policy import services as decisions
from tests.deployments.test_policy import POSTGRES, policies, postgres_form  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def cost_line(page: str) -> str:
    found = re.search(r'<p id="params-cost"[^>]*>(.*?)</p>', page, re.S)
    assert found is not None, "no cost line in the form"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_new_form_prices_the_defaults_and_each_preset(dev_client, catalog, proto_env):
    page = dev_client.get(reverse("deployments:new", args=["postgres"]), {"environment": proto_env.pk}).content.decode()
    assert cost_line(page).startswith("≈ $54.30/month")  # small, 20 GiB, 7 days of backups
    assert "Production (~$380/month): ≈ $374/month" in page  # each preset, priced by the model


def test_changing_a_field_redraws_the_estimate_beside_it(dev_client, catalog, proto_env):
    validate = reverse("bundles:form", args=["postgres", catalog["postgres"].version, "validate"])
    answer = dev_client.post(
        validate,
        postgres_form(proto_env, size="large", high_availability=False),
        HTTP_HX_TRIGGER_NAME="param/size",
        **HX,
    ).content.decode()
    assert 'id="params-cost"' in answer and 'hx-swap-oob="true"' in answer
    assert cost_line(answer).startswith("≈ $309/month")


def test_the_edit_form_says_what_a_change_adds_to_the_cost_now(dev, dev_client, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="db", bundle_version=catalog["postgres"], params={"size": "small"}, actor=dev
    )
    page = dev_client.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert cost_line(page).startswith("≈ $54.30/month, the same as now")
    validate = reverse("bundles:form", args=["postgres", catalog["postgres"].version, "validate"])
    data = {**postgres_form(proto_env, size="medium", high_availability=False), "_deployment": str(deployment.pk)}
    answer = dev_client.post(validate, data, HTTP_HX_TRIGGER_NAME="param/size", **HX).content.decode()
    assert cost_line(answer).startswith("≈ $159/month, +$105 from now")


def test_the_deployment_page_and_the_bundle_page_show_what_it_costs(dev, dev_client, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="db", bundle_version=catalog["postgres"], params={"size": "medium"}, actor=dev
    )
    page = dev_client.get(deployment.get_absolute_url()).content.decode()
    assert re.search(r"Costs about <strong>\$159/month</strong>", page)
    bundle_page = dev_client.get(reverse("bundles:detail", args=["postgres"])).content.decode()
    assert "≈ $54.30/month" in bundle_page  # the prototype preset


def test_a_held_plan_says_what_it_adds_to_the_month(dev, ops, client, catalog, prod_env):
    deployment = services.deployment_create(
        environment=prod_env, name="db", bundle_version=catalog["postgres"], params={"size": "small"}, actor=dev
    )
    first = deployment.runs.get()
    Run.objects.filter(pk=first.pk).update(status=RunStatus.SUCCEEDED)  # the first configuration went live
    run = services.deployment_update(deployment=deployment, params={"size": "xlarge"}, actor=dev)
    summary = {"add": 0, "change": 1, "replace": 0, "destroy": 0, "resources": [{"address": "x", "action": "update"}]}
    Run.objects.filter(pk=run.pk).update(status=RunStatus.AWAITING_APPROVAL, plan_summary=summary)
    client.force_login(ops)
    review = client.get(run.get_absolute_url()).content.decode()
    assert "This change adds $555/month" in review and "≈ $609/month, from $54.30/month" in review
    queue = client.get(reverse("deployments:exceptions")).content.decode()
    assert "This change adds $555/month" in queue


def test_an_exception_request_shows_the_amount_it_adds(dev, dev_client, catalog, prod_env, policies):  # noqa: F811
    deployment = services.deployment_create(
        environment=prod_env, name="db", bundle_version=catalog["postgres"], params=POSTGRES, actor=dev
    )
    exception = decisions.exception_request_create(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        name="db",
        params={**POSTGRES, "size": "xlarge", "backup_retention_days": 3},
        reason="a big throwaway copy",
        actor=dev,
        deployment=deployment,
    )
    page = dev_client.get(exception.get_absolute_url()).content.decode()
    assert "This change adds $1,102/month" in page  # (600 + 2.30 + 3) * 2 - (45 + 2.30 + 7) * 2
    assert "This change adds $1,102/month" in dev_client.get(reverse("deployments:exceptions")).content.decode()
