"""Budgets in an environment's policy: a change that takes the environment over its monthly budget is not
approved by the policy; it becomes an exception request showing the amount, and ops approve it."""

from decimal import Decimal

import pytest
from django.urls import reverse

from deployments import services
from deployments.costs.budget import environment_monthly_total
from deployments.models import ExceptionRequest
from deployments.policy import rules as policy
from deployments.policy import services as decisions
from deployments.policy.rules import PolicyViolation
from tests.deployments.test_policy import set_overlays

pytestmark = pytest.mark.django_db

OVER = "takes checkout/production to $609/month, over its monthly budget of $500"


@pytest.fixture
def budget(prod_env):
    return set_overlays(prod_env, {}, monthly_budget=Decimal("500"))


def create(environment, name, actor, catalog, **params):
    return services.deployment_create(
        environment=environment, name=name, bundle_version=catalog["postgres"], params=params, actor=actor
    )


def test_a_change_within_the_budget_is_approved_by_the_policy(dev, catalog, prod_env, budget):
    database = create(prod_env, "db", dev, catalog, size="medium")  # $159.30
    assert database.runs.get().approval_basis.startswith("approved by policy")
    assert environment_monthly_total(prod_env, "USD") == Decimal("159.30")


def test_a_change_over_the_budget_is_refused_with_the_amount(dev, catalog, prod_env, budget):
    database = create(prod_env, "db", dev, catalog, size="small")  # $54.30
    with pytest.raises(PolicyViolation) as refused:
        services.deployment_update(deployment=database, params={"size": "xlarge"}, actor=dev)  # $609.30
    message = refused.value.message
    assert "This change adds $555/month" in message and OVER in message
    assert refused.value.check.fields == ["(budget)"]
    database.refresh_from_db()
    assert database.params == {"size": "small"} and database.runs.count() == 1  # nothing changed, nothing ran


def test_a_new_deployment_counts_the_others_already_there(dev, catalog, prod_env, budget):
    create(prod_env, "first", dev, catalog, size="large")  # $309.30
    with pytest.raises(PolicyViolation) as refused:
        create(prod_env, "second", dev, catalog, size="large")
    assert "takes checkout/production to $619/month" in refused.value.message


def test_a_change_that_costs_less_passes_even_over_the_budget(dev, ops, catalog, prod_env, budget):
    database = create(prod_env, "db", dev, catalog, size="large")
    set_overlays(prod_env, {}, monthly_budget=Decimal("100"))  # the budget cut below what runs already
    run = services.deployment_update(deployment=database, params={"size": "medium"}, actor=dev)
    assert run.approval_basis.startswith("approved by policy")
    assert services.deployment_reapply(deployment=database, actor=dev).approval_basis.startswith("approved by policy")


def test_over_budget_becomes_an_exception_ops_approve(dev, ops, dev_client, client, catalog, prod_env, budget):
    database = create(prod_env, "db", dev, catalog, size="small")
    request = decisions.exception_request_create(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        name="db",
        params={"size": "xlarge"},
        reason="the Black Friday peak",
        actor=dev,
        deployment=database,
    )
    assert request.fields == ["(budget)"] and any(OVER in m for m in request.violations[""])
    page = dev_client.get(request.get_absolute_url()).content.decode()
    assert "This change adds $555/month" in page and OVER in page
    client.force_login(ops)
    queue = client.get(reverse("deployments:exceptions")).content.decode()
    assert "This change adds $555/month" in queue and "(budget)" in queue
    run = decisions.exception_approve(request=request, actor=ops, comment="for the peak")
    assert run.approval_basis.startswith(f"approved by exception #{request.pk}")
    database.refresh_from_db()
    assert database.params["size"] == "xlarge" and database.monthly_cost == Decimal("609.30")


def test_the_form_says_the_budget_sentence_before_submit(dev, dev_client, catalog, prod_env, budget):
    database = create(prod_env, "db", dev, catalog, size="small")
    verdict = policy.policy_verdict(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        params={"size": "xlarge"},
        current=database.full_params(),
        deployment=database,
    )
    assert not verdict.ok and verdict.message().startswith("This change adds $555/month")
    validate = reverse("bundles:form", args=["postgres", catalog["postgres"].version, "refresh"])
    answer = dev_client.post(
        validate,
        {
            "param/size": "xlarge",
            "param/storage_gb": "20",
            "param/backup_retention_days": "7",
            "_deployment": database.pk,
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "This change adds $555/month" in answer


def test_a_budget_is_kept_in_the_policys_history(prod_env):
    set_overlays(prod_env, {}, monthly_budget=Decimal("500"))
    set_overlays(prod_env, {}, monthly_budget=Decimal("800"))
    current = policy.policy_for(prod_env)
    budgets = [h.monthly_budget for h in current.history.order_by("history_date")]
    assert budgets[-2:] == [Decimal("500"), Decimal("800")] and current.version == budgets.count(None) + 2


def test_a_negative_budget_is_refused(prod_env):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        set_overlays(prod_env, {}, monthly_budget=Decimal("-1"))
    assert "monthly_budget" in refused.value.message_dict


def test_the_new_deployment_page_refuses_over_budget_and_asks_for_the_exception(dev, dev_client, catalog, prod_env):
    set_overlays(prod_env, {}, monthly_budget=Decimal("100"))
    data = {
        "environment": prod_env.pk,
        "name": "db",
        "param/size": "medium",
        "param/storage_gb": "20",
        "param/backup_retention_days": "7",
        "param/database_name": "app",
    }  # $159.30 in an environment with $100 a month
    refused = dev_client.post(reverse("deployments:new", args=["postgres"]), data)
    page = refused.content.decode()
    assert refused.status_code == 400
    assert "This change adds $159/month and takes checkout/production to $159/month" in page
    assert "Request an exception" in page
    asked = dev_client.post(
        reverse("deployments:new", args=["postgres"]),
        {**data, "request_exception": "1", "exception_reason": "the new checkout needs it"},
    )
    request = ExceptionRequest.objects.get()
    assert asked.status_code == 302 and request.fields == ["(budget)"] and request.monthly_cost == Decimal("159.30")


def test_a_bulk_dry_run_reports_over_budget_like_a_single_change_counting_its_targets_together(
    ops, catalog, prod_env, budget
):
    from deployments.estate import bulk, rollout
    from deployments.models import BulkChange, Deployment

    for name in ("db-a", "db-b"):  # small: $54.30 each, $108.60 of the $500
        Deployment.objects.create(
            environment=prod_env, name=name, bundle_version=catalog["postgres"], params={"size": "small"}, status="live"
        )
    change = bulk.bulk_change_create(
        title="bigger", query="bundle:postgres", patch=[{"op": "set", "path": "/size", "value": "large"}], actor=ops
    )
    bulk.bulk_dry_run_start(bulk=change, actor=ops, plan=False)
    for _ in range(20):
        if rollout.bulk_drive(change.pk) is None:
            break
    change.refresh_from_db()
    assert change.status == BulkChange.Status.TESTED
    verdicts = [(t.deployment.name, t.verdict, t.errors) for t in change.targets.select_related("deployment")]
    # The first alone fits ($54.30 + $309.30); with it, the second does not ($54.30 + $309.30 + $255 > $500).
    assert verdicts[0] == ("db-a", "clean", {})
    name, verdict, errors = verdicts[1]
    assert (name, verdict) == ("db-b", "invalid")
    assert errors[""] == [
        "This change adds $255/month and takes checkout/production to $619/month, over its monthly budget of "
        "$500 (policy v2). Request an exception: platform ops decide."
    ]
    assert "1 clean, 1 invalid" in change.message
