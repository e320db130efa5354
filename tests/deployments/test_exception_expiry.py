"""An exception approved for a while ("for one week"): its values stay approved until then, are out of policy
again after it (submit, the live check and the bulk dry run agree), and the owner is told before."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from deployments import services
from deployments.estate.validation import Validators
from deployments.models import ExceptionRequest
from deployments.policy import services as decisions
from deployments.policy.rules import PolicyViolation
from deployments.policy.selectors import expired_exception_fields

from .test_policy import POSTGRES, policies, postgres_form  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
OFF = {**POSTGRES, "high_availability": False}
BIGGER = {**OFF, "storage_gb": 40}


@pytest.fixture
def approved(dev, ops, catalog, prod_env, policies):  # noqa: F811
    """A production database with high availability off, approved as an exception for one week."""
    dev.email = "dev@example.com"
    dev.save()
    exception = decisions.exception_request_create(
        environment=prod_env, bundle_version=catalog["postgres"], name="db", params=OFF, reason="load test", actor=dev
    )
    run = decisions.exception_approve(
        request=exception, actor=ops, comment="for the test", expires_at=timezone.now() + timedelta(days=7)
    )
    run.transition("running")
    run.transition("succeeded")
    exception.refresh_from_db()
    return exception, run.deployment


def _expire(exception):
    ExceptionRequest.objects.filter(pk=exception.pk).update(expires_at=timezone.now() - timedelta(minutes=1))


def _live_check(client, deployment, params):
    version = deployment.bundle_version
    url = reverse("bundles:form", args=[version.bundle.name, version.version, "refresh"])
    form = {**postgres_form(deployment.environment, **params), "_deployment": str(deployment.pk)}
    return client.post(url, form, **HX).content.decode()


def _dry_run(deployment, params):
    return Validators().check(
        environment=deployment.environment,
        bundle_version=deployment.bundle_version,
        params=params,
        current=deployment.full_params(),
        expired=expired_exception_fields(deployment),
    )


def test_until_it_expires_the_values_stay_approved_and_after_it_every_door_refuses_them(dev, dev_client, approved):
    exception, deployment = approved
    assert exception.expires_at is not None and not exception.expired
    assert "No problems found" in _live_check(dev_client, deployment, {"high_availability": False, "storage_gb": 40})
    assert _dry_run(deployment, BIGGER).errors == {}
    run = services.deployment_update(deployment=deployment, params=BIGGER, actor=dev)
    assert "kept as approved before: high_availability" in run.approval_basis
    run.transition("running")
    run.transition("succeeded")
    deployment.refresh_from_db()

    _expire(exception)
    assert expired_exception_fields(deployment) == {"high_availability"}
    checked = _live_check(dev_client, deployment, {"high_availability": False, "storage_gb": 50})
    assert "No problems found" not in checked and "outside the policy" in checked
    assert "/high_availability" in _dry_run(deployment, {**OFF, "storage_gb": 50}).errors
    with pytest.raises(PolicyViolation):
        services.deployment_update(deployment=deployment, params={**OFF, "storage_gb": 50}, actor=dev)
    # Back in policy is accepted as always.
    back = services.deployment_update(deployment=deployment, params={**POSTGRES, "storage_gb": 50}, actor=dev)
    assert back.approval_basis.startswith("approved by policy")


def test_the_deployment_page_says_when_the_exception_expires_and_that_it_has(dev_client, approved):
    exception, deployment = approved
    page = dev_client.get(deployment.get_absolute_url()).content.decode()
    assert f'Exception <a href="{exception.get_absolute_url()}">#{exception.pk}</a> allows high_availability' in page
    assert "out of policy again" in page

    _expire(exception)
    page = dev_client.get(deployment.get_absolute_url()).content.decode()
    assert f"#{exception.pk}</a> expired on" in page
    assert "high_availability is outside this environment's policy again" in page


def test_the_owner_is_told_once_a_few_days_before(approved, settings, django_capture_on_commit_callbacks):
    exception, deployment = approved
    settings.SLIPWAY_EXCEPTION_WARN_DAYS = 3
    mail.outbox.clear()
    assert decisions.exceptions_warn_expiring() == 0  # a week away: not yet
    ExceptionRequest.objects.filter(pk=exception.pk).update(expires_at=timezone.now() + timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert decisions.exceptions_warn_expiring() == 1
    assert decisions.exceptions_warn_expiring() == 0  # once
    (sent,) = mail.outbox
    assert sent.to == ["dev@example.com"]
    assert f"Exception #{exception.pk} expires on" in sent.subject
    assert "high_availability will be outside the environment's policy again" in sent.body
    assert deployment.get_absolute_url() in sent.body
    event = AuditEvent.objects.get(event_type="exception.expiring")
    assert event.data["fields"] == ["high_availability"]
    exception.refresh_from_db()
    assert exception.expiry_warned_at is not None


def test_an_exception_whose_values_were_changed_since_warns_nobody(dev, approved):
    exception, deployment = approved
    run = services.deployment_update(deployment=deployment, params=POSTGRES, actor=dev)
    run.transition("running")
    run.transition("succeeded")
    ExceptionRequest.objects.filter(pk=exception.pk).update(expires_at=timezone.now() + timedelta(days=1))
    assert decisions.exceptions_warn_expiring() == 0
    assert not AuditEvent.objects.filter(event_type="exception.expiring").exists()


def test_ops_approve_for_one_week_from_the_page_and_through_the_api(
    dev,
    ops,
    client,
    catalog,
    prod_env,
    policies,  # noqa: F811
):
    def ask(name):
        return decisions.exception_request_create(
            environment=prod_env, bundle_version=catalog["postgres"], name=name, params=OFF, reason="why", actor=dev
        )

    client.force_login(ops)
    page = client.get(ask("db").get_absolute_url()).content.decode()
    assert "Approve for" in page and "One week" in page
    exception = ExceptionRequest.objects.get(name="db")
    client.post(reverse("deployments:exception-decide", args=[exception.pk]), {"decision": "approve", "valid_for": "7"})
    exception.refresh_from_db()
    assert exception.status == "approved"
    assert abs(exception.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert "Approved until" in client.get(exception.get_absolute_url()).content.decode()

    other = ask("db2")
    until = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    answer = client.post(
        f"/api/v1/exceptions/{other.pk}/approve/", {"expires_at": until.isoformat()}, content_type="application/json"
    )
    assert answer.status_code == 202, answer.content
    other.refresh_from_db()
    assert other.expires_at == until
    past = ask("db3")
    answer = client.post(
        f"/api/v1/exceptions/{past.pk}/approve/",
        {"expires_at": (timezone.now() - timedelta(days=1)).isoformat()},
        content_type="application/json",
    )
    assert answer.status_code == 400
    past.refresh_from_db()
    assert past.status == "pending"
