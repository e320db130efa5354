"""One verdict on params, whichever door asks: the form's live check says what submit says (with or
without "Show choices outside this policy"), and the bulk dry run keeps values approved before as the
"Change configuration" page keeps them (issue 19, logic problems 2 and 3)."""

import pytest
from django.urls import reverse

from deployments import services
from deployments.estate import bulk
from deployments.models import BulkChange, Deployment, Policy
from deployments.policy import rules as policy

from .test_bulk import drive_until_settled
from .test_policy import POSTGRES, policies, postgres_form  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _refresh(catalog):
    return reverse("bundles:form", args=["postgres", catalog["postgres"].version, "refresh"])


def test_the_live_check_says_what_submit_says_with_choices_outside_the_policy_shown(
    dev_client,
    catalog,
    proto_env,
    policies,  # noqa: F811
):
    outside = {**postgres_form(proto_env, size="large"), "outside_policy": "1"}
    checked = dev_client.post(_refresh(catalog), outside, **HX).content.decode()
    submitted = dev_client.post(reverse("deployments:new", args=["postgres"]), outside).content.decode()
    sentence = "These params are outside the policy of"
    assert "No problems found" not in checked
    assert sentence in checked and sentence in submitted
    assert not Deployment.objects.exists()


def test_the_live_check_still_says_no_problems_for_params_in_the_policy(
    dev_client,
    catalog,
    proto_env,
    policies,  # noqa: F811
):
    inside = {**postgres_form(proto_env, size="medium"), "outside_policy": "1"}
    assert "No problems found" in dev_client.post(_refresh(catalog), inside, **HX).content.decode()


@pytest.fixture
def kept(dev, catalog, prod_env, policies):  # noqa: F811
    """A production database whose high availability is off: approved before, outside today's policy."""
    deployment = Deployment.objects.create(
        environment=prod_env,
        name="db",
        bundle_version=catalog["postgres"],
        params={**POSTGRES, "high_availability": False},
        status="live",
    )
    return deployment


def test_the_live_check_keeps_values_approved_before_as_submit_does(dev_client, dev, kept):
    form = {
        **postgres_form(kept.environment, high_availability=False, storage_gb=40),
        "_deployment": str(kept.pk),
    }
    checked = dev_client.post(_refresh_for(kept), form, **HX).content.decode()
    assert "No problems found" in checked
    run = services.deployment_update(
        deployment=kept, params={**POSTGRES, "high_availability": False, "storage_gb": 40}, actor=dev
    )
    assert "kept as approved before: high_availability" in run.approval_basis


def _refresh_for(deployment):
    version = deployment.bundle_version
    return reverse("bundles:form", args=[version.bundle.name, version.version, "refresh"])


def test_the_bulk_dry_run_keeps_values_approved_before(ops, kept):
    change = bulk.bulk_change_create(
        title="bigger disks",
        query="bundle:postgres",
        patch=[{"op": "set", "path": "/storage_gb", "value": 40}],
        actor=ops,
    )
    bulk.bulk_dry_run_start(bulk=change, actor=ops, plan=False)
    change = drive_until_settled(change)
    assert change.status == BulkChange.Status.TESTED
    target = change.targets.get()
    assert (target.verdict, target.errors) == ("clean", {})


def test_the_bulk_dry_run_still_refuses_a_new_value_outside_the_policy(ops, kept):
    change = bulk.bulk_change_create(
        title="short backups",
        query="bundle:postgres",
        patch=[{"op": "set", "path": "/backup_retention_days", "value": 1}],
        actor=ops,
    )
    bulk.bulk_dry_run_start(bulk=change, actor=ops, plan=False)
    change = drive_until_settled(change)
    target = change.targets.get()
    assert target.verdict == "invalid" and "/backup_retention_days" in target.errors
    # and submit agrees
    with pytest.raises(policy.PolicyViolation):
        policy.params_approve(
            environment=kept.environment,
            bundle_version=kept.bundle_version,
            params={**POSTGRES, "high_availability": False, "backup_retention_days": 1},
            exception=None,
            current=kept.params,
        )
    assert Policy.objects.filter(environment=kept.environment).exists()
