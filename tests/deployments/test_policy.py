"""Environment policy: in-policy changes apply with no human step; anything else is an exception
that ops decide; risky plans in production wait for ops."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.urls import reverse

from audit.models import AuditEvent
from bundles.models import BundleVersion
from deployments import services
from deployments.models import Deployment, ExceptionRequest, Run
from deployments.policy import rules as policy
from deployments.policy import services as decisions
from deployments.services import PolicyViolation
from portal.history import change_of
from portal.models import APIToken
from tests.conftest import wait_for_run

PROTOTYPE_OVERLAY = {"postgres": {"properties": {"size": {"enum": ["small", "medium"]}}}}
PRODUCTION_OVERLAY = {
    "postgres": {"properties": {"high_availability": {"const": True}, "backup_retention_days": {"minimum": 7}}},
    "workbench": {"properties": {"message": {"enum": ["hello", "approved"]}}},
}
POSTGRES = {
    "size": "small",
    "storage_gb": 20,
    "high_availability": True,
    "backup_retention_days": 7,
    "database_name": "app",
}


def set_overlays(environment, overlays, **extra):
    current = policy.policy_for(environment)
    current.overlays = overlays
    for key, value in extra.items():
        setattr(current, key, value)
    current.full_clean()
    current.save()
    environment._policy_cache = None
    return current


@pytest.fixture
def policies(proto_env, prod_env):
    set_overlays(proto_env, PROTOTYPE_OVERLAY)
    set_overlays(prod_env, PRODUCTION_OVERLAY)


# --- the form's view of the policy --------------------------------------------------------


@pytest.mark.django_db
def test_the_prototype_form_offers_only_the_allowed_sizes(dev_client, catalog, proto_env, policies):
    page = dev_client.get(reverse("deployments:new", args=["postgres"]), {"environment": proto_env.pk}).content.decode()
    assert 'value="small"' in page and 'value="medium"' in page
    assert 'value="large"' not in page and 'value="xlarge"' not in page
    assert "checkout/proto allows only these for Size: Small" in page


@pytest.mark.django_db
def test_the_production_form_says_what_production_requires(dev_client, catalog, prod_env, policies):
    response = dev_client.get(
        reverse("deployments:new", args=["postgres"]), {"environment": prod_env.pk}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert "checkout/production requires high availability." in page
    assert "checkout/production requires Keep backups for: at least 7 days." in page
    assert 'hx-swap-oob="true"' in page  # the hints follow the environment picked


def postgres_form(environment, **params):
    data = {f"param/{k}": str(v).lower() if isinstance(v, bool) else str(v) for k, v in {**POSTGRES, **params}.items()}
    if not {**POSTGRES, **params}["high_availability"]:
        data.pop("param/high_availability")
    return {**data, "environment": environment.pk, "name": "db", "reason": "test"}


@pytest.mark.django_db
def test_live_validation_and_redraws_follow_the_environments_policy(dev_client, catalog, proto_env, policies):
    refresh = reverse("bundles:form", args=["postgres", catalog["postgres"].version, "refresh"])
    hx = {"HTTP_HX_REQUEST": "true"}

    allowed = dev_client.post(refresh, postgres_form(proto_env, size="medium"), **hx).content.decode()
    assert 'value="large"' not in allowed and "No problems found" in allowed  # drawn as the page draws it

    outside = postgres_form(proto_env, size="large")
    asked = dev_client.post(refresh, outside, **hx).content.decode()
    assert "These params are outside the policy of" in asked  # what submit would say, said before submit

    chosen = dev_client.post(refresh, {**outside, "outside_policy": "1"}, **hx).content.decode()
    assert re.search(r'value="large"[^>]*checked', chosen) and "These params are outside the policy of" in chosen


@pytest.mark.django_db
def test_a_refused_submit_keeps_the_refused_values_for_the_exception(dev_client, catalog, proto_env, policies):
    response = dev_client.post(reverse("deployments:new", args=["postgres"]), postgres_form(proto_env, size="large"))
    page = response.content.decode()
    assert response.status_code == 400 and "outside the policy" in page
    assert re.search(r'value="large"[^>]*checked', page)  # still there, to ask for
    assert re.search(r'name="outside_policy" value="1"\s+checked', page)


@pytest.mark.django_db
def test_an_overlay_that_is_not_json_schema_is_refused_when_saved(proto_env):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        set_overlays(proto_env, {"postgres": {"properties": {"size": {"type": "strnig"}}}})
    assert "invalid JSON Schema" in str(excinfo.value)


@pytest.mark.django_db
def test_saving_a_policy_bumps_its_version_and_keeps_history(proto_env):
    before = policy.policy_for(proto_env).version
    second = set_overlays(proto_env, PROTOTYPE_OVERLAY)
    assert second.version == before + 1
    assert second.history.count() == 2


@pytest.mark.django_db
def test_a_new_environment_starts_with_its_tiers_policy_which_follows_the_tier_until_edited(project):
    from deployments.models import Environment, Policy

    env = Environment.objects.create(project=project, slug="later", name="Later")  # prototype by default
    assert Policy.objects.get(environment=env).gated_actions == []
    env.tier = "production"
    env.save()
    assert Policy.objects.get(environment=env).gated_actions == ["replace", "destroy"]
    notes = [change_of(h).note for h in Policy.history.order_by("history_id")]
    assert notes[-2:] == [
        "the default policy of a new Prototype environment",
        "the default policy follows the environment's tier: Production",
    ]

    edited = set_overlays(Environment.objects.get(pk=env.pk), {}, gated_actions=["destroy"])
    env.tier = "prototype"
    env.save()
    assert Policy.objects.get(environment=env).gated_actions == ["destroy"] == edited.gated_actions


# --- decisions ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_out_of_policy_submit_is_refused_naming_the_policy(dev, client, catalog, prod_env, policies):
    with pytest.raises(PolicyViolation) as excinfo:
        services.deployment_create(
            environment=prod_env,
            name="db",
            bundle_version=catalog["postgres"],
            params={**POSTGRES, "high_availability": False},
            actor=dev,
        )
    assert "outside the policy of checkout/production (policy v2)" in excinfo.value.message
    assert excinfo.value.errors == {"/high_availability": ["Must be true."]}

    _, key = APIToken.issue(user=dev, name="t")
    response = client.post(
        "/api/v1/deployments/",
        json.dumps(
            {
                "environment": prod_env.pk,
                "name": "db",
                "bundle": "postgres",
                "params": {**POSTGRES, "backup_retention_days": 3},
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 400
    assert "policy of checkout/production" in response.json()["message"]
    assert response.json()["errors"] == {"/params/backup_retention_days": ["Must be at least 7."]}
    assert not Deployment.objects.exists() and not Run.objects.exists()


@pytest.mark.django_db
def test_the_form_offers_an_exception_and_ops_are_told(
    dev_client, ops, catalog, prod_env, policies, django_capture_on_commit_callbacks
):
    data = {
        "environment": prod_env.pk,
        "name": "db",
        "param/size": "small",
        "param/storage_gb": "20",
        "param/backup_retention_days": "7",
        "param/database_name": "app",
    }  # high availability unticked
    refused = dev_client.post(reverse("deployments:new", args=["postgres"]), data)
    page = refused.content.decode()
    assert refused.status_code == 400
    assert "outside the policy of checkout/production" in page and "Request an exception" in page

    with django_capture_on_commit_callbacks(execute=True):
        requested = dev_client.post(
            reverse("deployments:new", args=["postgres"]),
            {**data, "request_exception": "1", "exception_reason": "a throwaway load-test copy"},
        )
    exception = ExceptionRequest.objects.get()
    assert requested.status_code == 302 and requested.url == exception.get_absolute_url()
    assert exception.fields == ["high_availability"] and exception.status == "pending"
    assert not Deployment.objects.exists()
    (notice,) = mail.outbox
    assert ops.email in notice.to and exception.get_absolute_url() in notice.body


@pytest.mark.django_db
def test_a_rejected_exception_never_runs_and_the_developer_sees_why(dev, ops, dev_client, catalog, prod_env, policies):
    exception = decisions.exception_request_create(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        name="db",
        params={**POSTGRES, "high_availability": False},
        reason="cheaper",
        actor=dev,
    )
    client = dev_client
    from django.test import Client

    ops_client = Client()
    ops_client.force_login(ops)
    ops_client.post(
        reverse("deployments:exception-decide", args=[exception.pk]),
        {"decision": "reject", "comment": "production data needs a standby"},
    )
    exception.refresh_from_db()
    assert exception.status == "rejected"
    assert not Deployment.objects.exists() and not Run.objects.exists()
    page = client.get(exception.get_absolute_url()).content.decode()
    assert "production data needs a standby" in page
    assert AuditEvent.objects.filter(event_type="exception.rejected", actor_name="ops").exists()


@pytest.mark.django_db
def test_only_ops_decide(dev, teammate, catalog, prod_env, policies):
    from django.core.exceptions import PermissionDenied

    exception = decisions.exception_request_create(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        name="db",
        params={**POSTGRES, "high_availability": False},
        reason="cheaper",
        actor=dev,
    )
    with pytest.raises(PermissionDenied):
        decisions.exception_approve(request=exception, actor=teammate)


@pytest.mark.django_db
def test_x_immutable_fields_cannot_change_after_the_first_apply(dev, client, catalog, proto_env):
    locked_name = BundleVersion.objects.get(bundle__name="postgres", version="1.0.0")  # 2.0.0 replaces instead
    deployment = services.deployment_create(
        environment=proto_env, name="db", bundle_version=locked_name, params=POSTGRES, actor=dev
    )
    run = deployment.runs.get()
    run.transition("running")
    run.transition("succeeded")
    client.force_login(dev)
    response = client.post(
        f"/api/v1/deployments/{deployment.pk}/apply/",
        json.dumps({"params": {**POSTGRES, "database_name": "renamed"}}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "cannot change after the first apply" in response.json()["errors"]["/params/database_name"][0]


# --- on real services -------------------------------------------------------------------------


class Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_in_policy_changes_apply_with_no_human_step(celery_worker, dev, catalog, proto_env, policies):
    deployment = services.deployment_create(
        environment=proto_env,
        name="db",
        bundle_version=catalog["postgres"],
        params={**POSTGRES, "size": "medium"},
        actor=dev,
    )
    run = wait_for_run(deployment.runs.get())
    assert run.status == "succeeded", run.error
    assert run.approval_basis == "approved by policy checkout/proto/v2"
    assert run.apply_confirmed_by == ""  # nobody had to look at it


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_approved_exception_runs_and_every_step_is_audited(
    celery_worker, dev, ops, client, catalog, prod_env, policies
):
    exception = decisions.exception_request_create(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        name="db",
        params={**POSTGRES, "high_availability": False},
        reason="a short-lived load-test copy",
        actor=dev,
    )
    client.force_login(ops)
    response = client.post(
        reverse("deployments:exception-decide", args=[exception.pk]), {"decision": "approve", "comment": "two weeks"}
    )
    exception.refresh_from_db()
    assert response.status_code == 302 and exception.status == "approved"
    run = wait_for_run(exception.run)
    assert run.status == "succeeded", run.error
    assert run.approval_basis == f"approved by exception #{exception.pk} (ops)"
    assert run.requested_by == dev
    deployment = run.deployment
    assert deployment.params["high_availability"] is False
    events = list(AuditEvent.objects.order_by("created_at", "id").values_list("event_type", flat=True))
    for step in ("exception.requested", "exception.approved", "run.requested", "run.applied"):
        assert step in events, events
    assert events.index("exception.requested") < events.index("exception.approved") < events.index("run.applied")


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_replace_in_production_waits_for_ops_with_the_plan_in_front_of_them(
    celery_worker, dev, ops, client, catalog, prod_env, policies
):
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hook.received = []
    set_overlays(prod_env, PRODUCTION_OVERLAY, webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
    try:
        deployment = services.deployment_create(
            environment=prod_env, name="api", bundle_version=catalog["workbench"], params={"generation": 1}, actor=dev
        )
        assert wait_for_run(deployment.runs.get()).status == "succeeded"
        run = services.deployment_update(deployment=deployment, params={"generation": 2}, actor=dev)
        for _ in range(300):
            run.refresh_from_db()
            if run.status not in ("queued", "running"):
                break
            import time

            time.sleep(0.2)
        assert run.status == "awaiting_approval", run.error
        client.force_login(ops)
        page = client.get(run.get_absolute_url()).content.decode()
        assert "needs platform ops to approve" in page and "1 to replace" in page and "Approve and apply" in page
        assert "This recreates terraform_data.thing" in page
        queue = client.get(reverse("deployments:exceptions")).content.decode()
        assert f"#{run.pk}" in queue

        client.post(reverse("deployments:run-decide", args=[run.pk]), {"decision": "approve", "comment": "window"})
        run = wait_for_run(run)
        assert run.status == "succeeded", run.error
        assert "plan approved by ops: window" in run.approval_basis
        for _ in range(100):
            if Hook.received:
                break
            import time

            time.sleep(0.1)
        assert Hook.received and Hook.received[0]["event"] == "run.awaiting_approval"
        assert Hook.received[0]["url"].endswith(run.get_absolute_url())
    finally:
        server.shutdown()


@pytest.mark.django_db
def test_values_approved_as_an_exception_survive_the_next_unrelated_change(
    dev, ops, dev_client, catalog, prod_env, policies
):
    exception = decisions.exception_request_create(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        name="db",
        params={**POSTGRES, "high_availability": False},
        reason="load test",
        actor=dev,
    )
    run = decisions.exception_approve(request=exception, actor=ops, comment="ok")
    deployment = run.deployment
    run.transition("running")
    run.transition("succeeded")

    # The edit form keeps the approved value on show, so an unchanged submit keeps it too.
    page = dev_client.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert "approved before: they stay as they are" in page

    change = services.deployment_update(
        deployment=deployment, params={**POSTGRES, "high_availability": False, "storage_gb": 40}, actor=dev
    )
    assert (
        change.approval_basis == "approved by policy checkout/production/v2; kept as approved before: high_availability"
    )
    deployment.refresh_from_db()
    assert deployment.params["high_availability"] is False

    # Moving another field outside the policy is still a new exception.
    with pytest.raises(PolicyViolation):
        services.deployment_update(
            deployment=deployment,
            params={**POSTGRES, "high_availability": False, "storage_gb": 40, "backup_retention_days": 1},
            actor=dev,
        )


@pytest.mark.django_db
def test_the_exception_page_sets_each_requested_value_beside_the_value_now(
    dev, dev_client, catalog, prod_env, policies
):
    deployment = services.deployment_create(
        environment=prod_env, name="db", bundle_version=catalog["postgres"], params=POSTGRES, actor=dev
    )
    exception = decisions.exception_request_create(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        name="db",
        params={**POSTGRES, "backup_retention_days": 3},
        reason="a throwaway copy",
        actor=dev,
        deployment=deployment,
    )
    page = dev_client.get(exception.get_absolute_url()).content.decode()
    row = re.search(
        r'<tr class="outside"><th scope="row">([^<]*)</th>\s*<td>(.*?)</td>\s*<td class="muted">(.*?)</td>', page, re.S
    )
    assert row is not None
    label, requested, now = row.groups()
    assert "backup" in label.lower() and requested.startswith("3") and now.startswith("7")
