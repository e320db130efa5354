"""Every URL and API endpoint against the cast: dev, teammate, outsider, ops, auditor, anonymous.

The test walks the URL configuration; a route without a rule here fails it, so a new endpoint
cannot ship without someone deciding who may use it.
"""

import base64
import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from deployments import services
from deployments.connections.services import artifact_store
from deployments.models import ExceptionRequest
from portal.crypto import encrypt

pytestmark = pytest.mark.django_db

OK, HIDDEN, FORBIDDEN, LOGIN, UNAUTHORIZED = "ok", "404", "403", "login", "401"
ROLES = ("dev", "teammate", "outsider", "ops", "auditor", "anonymous")


def everyone(outcome=OK):
    return dict.fromkeys(ROLES[:-1], outcome) | {"anonymous": LOGIN}


def team_only(write=False):
    """The team and ops; others do not learn it exists; reviewers read, or are refused a write."""
    return {
        "dev": OK,
        "teammate": OK,
        "outsider": HIDDEN,
        "ops": OK,
        "auditor": FORBIDDEN if write else OK,
        "anonymous": LOGIN,
    }


def reviewers():
    return {
        "dev": FORBIDDEN,
        "teammate": FORBIDDEN,
        "outsider": FORBIDDEN,
        "ops": OK,
        "auditor": OK,
        "anonymous": LOGIN,
    }


def ops_only_on_team_object():
    return {
        "dev": FORBIDDEN,
        "teammate": FORBIDDEN,
        "outsider": HIDDEN,
        "ops": OK,
        "auditor": FORBIDDEN,
        "anonymous": LOGIN,
    }


def ops_only():
    return {
        "dev": FORBIDDEN,
        "teammate": FORBIDDEN,
        "outsider": FORBIDDEN,
        "ops": OK,
        "auditor": FORBIDDEN,
        "anonymous": LOGIN,
    }


def writers():
    """Creating things: anyone signed in may try (the service then scopes it); reviewers may not."""
    return everyone() | {"auditor": FORBIDDEN}


# name -> (method, url builder, body, expectations)
RULES = {
    "home": ("GET", lambda w: reverse("home"), None, everyone()),
    "healthz": ("GET", lambda w: reverse("healthz"), None, dict.fromkeys(ROLES, OK)),
    "favicon": ("GET", lambda w: reverse("favicon"), None, dict.fromkeys(ROLES, OK)),
    "login": ("GET", lambda w: reverse("login"), None, dict.fromkeys(ROLES, OK)),
    "logout": ("POST", lambda w: reverse("logout"), {}, dict.fromkeys(ROLES, OK)),
    "api-tokens": ("GET", lambda w: reverse("api-tokens"), None, everyone()),
    "search": ("GET", lambda w: reverse("search") + "?q=orders", None, everyone()),
    # The API's description is public, like any API reference; it holds no data.
    "api-schema": ("GET", lambda w: reverse("api-schema"), None, dict.fromkeys(ROLES, OK)),
    "api-docs": ("GET", lambda w: reverse("api-docs"), None, dict.fromkeys(ROLES, OK)),
    "bundles:catalog": ("GET", lambda w: reverse("bundles:catalog"), None, everyone()),
    "bundles:detail": ("GET", lambda w: reverse("bundles:detail", args=["echo"]), None, everyone()),
    "bundles:form": (
        "POST",
        lambda w: reverse("bundles:form", args=["echo", "1.0.0", "validate"]),
        {"param/message": "x"},
        writers(),  # live validation serves people filling in a deployment form, which reviewers never do
    ),
    "deployments:list": ("GET", lambda w: reverse("deployments:list"), None, everyone()),
    "deployments:new": ("GET", lambda w: reverse("deployments:new", args=["echo"]), None, everyone()),
    "deployments:detail": ("GET", lambda w: w["deployment"].get_absolute_url(), None, team_only()),
    "deployments:canvas": (
        "GET",
        lambda w: reverse("deployments:canvas", args=[w["deployment"].environment_id]),
        None,
        team_only(),
    ),
    "deployments:canvas-connect": (
        "POST",
        lambda w: reverse("deployments:canvas-connect", args=[w["deployment"].environment_id]),
        {},
        team_only(write=True),
    ),
    "deployments:edit": (
        "GET",
        lambda w: reverse("deployments:edit", args=[w["deployment"].pk]),
        None,
        team_only(write=True),
    ),
    "deployments:destroy": (
        "GET",
        lambda w: reverse("deployments:destroy", args=[w["deployment"].pk]),
        None,
        team_only(write=True),
    ),
    "deployments:apply": (
        "POST",
        lambda w: reverse("deployments:apply", args=[w["deployment"].pk]),
        {},
        team_only(write=True),
    ),
    "deployments:redeploy": (  # live here: the team is told there is nothing to redeploy
        "POST",
        lambda w: reverse("deployments:redeploy", args=[w["deployment"].pk]),
        {},
        team_only(write=True),
    ),
    "deployments:artifact-reveal": (
        "POST",
        lambda w: reverse("deployments:artifact-reveal", args=[w["deployment"].pk, "endpoint"]),
        {},
        team_only(write=True),
    ),
    "deployments:run": ("GET", lambda w: w["run"].get_absolute_url(), None, team_only()),
    "deployments:run-logs": ("GET", lambda w: reverse("deployments:run-logs", args=[w["run"].pk]), None, team_only()),
    "deployments:run-cancel": (
        "POST",
        lambda w: reverse("deployments:run-cancel", args=[w["run"].pk]),
        {},
        team_only(write=True),
    ),
    "deployments:run-apply": (
        "POST",
        lambda w: reverse("deployments:run-apply", args=[w["run"].pk]),
        {},
        team_only(write=True),
    ),
    "deployments:run-decide": (
        "POST",
        lambda w: reverse("deployments:run-decide", args=[w["run"].pk]),
        {"decision": "approve"},
        ops_only_on_team_object(),
    ),
    "deployments:force-unlock": (
        "POST",
        lambda w: reverse("deployments:force-unlock", args=[w["deployment"].pk]),
        {"reason": "test"},
        ops_only_on_team_object(),
    ),
    "deployments:reveal": (
        "POST",
        lambda w: reverse("deployments:reveal", args=[w["deployment"].pk, "token"]),
        {},
        team_only(write=True),
    ),
    "deployments:live": ("GET", lambda w: reverse("deployments:live", args=[w["deployment"].pk]), None, team_only()),
    "deployments:drift-check-now": (
        "POST",
        lambda w: reverse("deployments:drift-check-now", args=[w["deployment"].pk]),
        {},
        team_only(write=True),
    ),
    "deployments:drift-check": ("GET", lambda w: w["drift_check"].get_absolute_url(), None, team_only()),
    "deployments:env-deploy": (
        "POST",
        lambda w: reverse("deployments:env-deploy", args=[w["deployment"].environment_id]),
        {"action": "plan"},
        team_only(write=True),
    ),
    "deployments:env-teardown": (
        "GET",
        lambda w: reverse("deployments:env-teardown", args=[w["deployment"].environment_id]),
        None,
        team_only(write=True),
    ),
    "deployments:env-compare": (
        "GET",
        lambda w: reverse("deployments:env-compare", args=[w["deployment"].environment_id]),
        None,
        team_only(),
    ),
    "deployments:env-fork": (
        "GET",
        lambda w: reverse("deployments:env-fork", args=[w["deployment"].environment_id]),
        None,
        team_only(write=True),
    ),
    "deployments:env-promote": (  # the source is read; the target picker offers only what one may change
        "GET",
        lambda w: reverse("deployments:env-promote", args=[w["deployment"].environment_id]),
        None,
        team_only(),
    ),
    "deployments:env-run": ("GET", lambda w: w["env_run"].get_absolute_url(), None, team_only()),
    "deployments:env-run-cancel": (
        "POST",
        lambda w: reverse("deployments:env-run-cancel", args=[w["env_run"].pk]),
        {},
        team_only(write=True),
    ),
    "deployments:drift-revert": (
        "POST",
        lambda w: reverse("deployments:drift-revert", args=[w["drift_check"].pk]),
        {"reason": "test"},
        team_only(write=True),
    ),
    "deployments:drift-accept": (
        "POST",
        lambda w: reverse("deployments:drift-accept", args=[w["drift_check"].pk]),
        {"reason": "test"},
        team_only(write=True),
    ),
    "deployments:exceptions": ("GET", lambda w: reverse("deployments:exceptions"), None, everyone()),
    "deployments:exception": ("GET", lambda w: w["exception"].get_absolute_url(), None, team_only()),
    "deployments:exception-decide": (
        "POST",
        lambda w: reverse("deployments:exception-decide", args=[w["exception"].pk]),
        {"decision": "approve"},
        ops_only_on_team_object(),
    ),
    "audit:timeline": ("GET", lambda w: reverse("audit:timeline"), None, reviewers()),
    "audit:event": ("GET", lambda w: reverse("audit:event", args=[w["event"].pk]), None, reviewers()),
    "audit:config": ("GET", lambda w: reverse("audit:config", args=["team", w["team_history_id"]]), None, reviewers()),
    "audit:as-of": ("GET", lambda w: reverse("audit:as-of"), None, reviewers()),
    "audit:diff": ("GET", lambda w: reverse("audit:diff"), None, reviewers()),
    "audit:deployment-history": (
        "GET",
        lambda w: reverse("audit:deployment-history", args=[w["deployment"].pk]),
        None,
        team_only(),
    ),
    "audit:deployment-restore": (
        "POST",
        lambda w: reverse("audit:deployment-restore", args=[w["deployment"].pk, w["history_id"]]),
        {},
        team_only(write=True),
    ),
    # The API: anonymous callers get 401/403, never a redirect.
    "bundle-list": ("GET", lambda w: "/api/v1/bundles/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "bundle-detail": ("GET", lambda w: "/api/v1/bundles/echo/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "bundle-version-list": (
        "GET",
        lambda w: "/api/v1/bundles/echo/versions/",
        None,
        everyone() | {"anonymous": UNAUTHORIZED},
    ),
    "bundle-version-detail": (
        "GET",
        lambda w: "/api/v1/bundles/echo/versions/1.0.0/",
        None,
        everyone() | {"anonymous": UNAUTHORIZED},
    ),
    "project-list": ("GET", lambda w: "/api/v1/projects/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "project-detail": (
        "GET",
        lambda w: f"/api/v1/projects/{w['deployment'].environment.project_id}/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "environment-list": ("GET", lambda w: "/api/v1/environments/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "environment-detail": (
        "GET",
        lambda w: f"/api/v1/environments/{w['deployment'].environment_id}/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-list": ("GET", lambda w: "/api/v1/deployments/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "deployment-detail": (
        "GET",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-plan": (
        "POST",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/plan/",
        {},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-apply": (
        "POST",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/apply/",
        {"params": "bad"},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-destroy": (
        "POST",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/destroy/",
        {"confirm": "no"},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-unlock": (
        "POST",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/unlock/",
        {"reason": "worker died"},
        ops_only_on_team_object() | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-reveal": (
        "POST",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/outputs/token/reveal/",
        {},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-artifacts": (
        "GET",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/artifacts/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-artifact-reveal": (
        "POST",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/artifacts/endpoint/reveal/",
        {},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "environment-graph": (
        "GET",
        lambda w: f"/api/v1/environments/{w['deployment'].environment_id}/graph/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "resource-type-list": ("GET", lambda w: "/api/v1/resource-types/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "resource-type-detail": (
        "GET",
        lambda w: "/api/v1/resource-types/postgresql/",
        None,
        everyone() | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-history": (
        "GET",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/history/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-restore": (
        "POST",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/restore/",
        {"history_id": "not-a-number"},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "deployment-drift": (
        "GET",
        lambda w: f"/api/v1/deployments/{w['deployment'].pk}/drift/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "environment-deploy": (
        "POST",
        lambda w: f"/api/v1/environments/{w['deployment'].environment_id}/deploy/",
        {"action": "plan"},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "environment-teardown": (
        "POST",
        lambda w: f"/api/v1/environments/{w['deployment'].environment_id}/teardown/",
        {"confirm": "no"},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "environment-diff": (
        "GET",
        lambda w: f"/api/v1/environments/{w['deployment'].environment_id}/diff/?other={w['deployment'].environment_id}",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "environment-fork": (
        "POST",
        lambda w: f"/api/v1/environments/{w['deployment'].environment_id}/fork/",
        {"project": "nowhere", "slug": "copy"},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "preview-list": ("GET", lambda w: "/api/v1/previews/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    # The source is named in the body: whoever cannot see it is answered 400 ("no environment ... that you can
    # see", tests/deployments/test_environment_previews.py), as any invalid body; reviewers are refused a write.
    "preview-ensure": (
        "POST",
        lambda w: "/api/v1/previews/ensure/",
        {"source": "checkout/proto", "pull_request": ""},
        writers() | {"anonymous": UNAUTHORIZED},
    ),
    "preview-teardown": (
        "POST",
        lambda w: "/api/v1/previews/teardown/",
        {"source": "checkout/proto", "pull_request": ""},
        writers() | {"anonymous": UNAUTHORIZED},
    ),
    "environment-promote": (  # to itself: the team is told it needs another target (400), a reader is refused
        "GET",
        lambda w: (
            f"/api/v1/environments/{w['deployment'].environment_id}/promote/?target={w['deployment'].environment_id}"
        ),
        None,
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "environment-run-list": (
        "GET",
        lambda w: "/api/v1/environment-runs/",
        None,
        everyone() | {"anonymous": UNAUTHORIZED},
    ),
    "environment-run-detail": (
        "GET",
        lambda w: f"/api/v1/environment-runs/{w['env_run'].pk}/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "environment-run-cancel": (
        "POST",
        lambda w: f"/api/v1/environment-runs/{w['env_run'].pk}/cancel/",
        {},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "drift-check-list": ("GET", lambda w: "/api/v1/drift-checks/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "drift-check-detail": (
        "GET",
        lambda w: f"/api/v1/drift-checks/{w['drift_check'].pk}/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "drift-check-revert": (
        "POST",
        lambda w: f"/api/v1/drift-checks/{w['drift_check'].pk}/revert/",
        {"reason": "test"},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "drift-check-accept": (
        "POST",
        lambda w: f"/api/v1/drift-checks/{w['drift_check'].pk}/accept/",
        {"reason": "test"},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "run-list": ("GET", lambda w: "/api/v1/runs/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "run-detail": ("GET", lambda w: f"/api/v1/runs/{w['run'].pk}/", None, team_only() | {"anonymous": UNAUTHORIZED}),
    "run-logs": ("GET", lambda w: f"/api/v1/runs/{w['run'].pk}/logs/", None, team_only() | {"anonymous": UNAUTHORIZED}),
    "run-cancel": (
        "POST",
        lambda w: f"/api/v1/runs/{w['run'].pk}/cancel/",
        {},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "run-confirm": (
        "POST",
        lambda w: f"/api/v1/runs/{w['run'].pk}/confirm/",
        {},
        team_only(write=True) | {"anonymous": UNAUTHORIZED},
    ),
    "run-approve": (
        "POST",
        lambda w: f"/api/v1/runs/{w['run'].pk}/approve/",
        {},
        ops_only_on_team_object() | {"anonymous": UNAUTHORIZED},
    ),
    "run-reject": (
        "POST",
        lambda w: f"/api/v1/runs/{w['run'].pk}/reject/",
        {"comment": "no"},
        ops_only_on_team_object() | {"anonymous": UNAUTHORIZED},
    ),
    "exception-list": ("GET", lambda w: "/api/v1/exceptions/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "exception-detail": (
        "GET",
        lambda w: f"/api/v1/exceptions/{w['exception'].pk}/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "exception-approve": (
        "POST",
        lambda w: f"/api/v1/exceptions/{w['exception'].pk}/approve/",
        {},
        ops_only_on_team_object() | {"anonymous": UNAUTHORIZED},
    ),
    "exception-reject": (
        "POST",
        lambda w: f"/api/v1/exceptions/{w['exception'].pk}/reject/",
        {"comment": "no"},
        ops_only_on_team_object() | {"anonymous": UNAUTHORIZED},
    ),
    # Events are scoped like deployments: a developer sees those of their team's deployments.
    "audit-event-list": ("GET", lambda w: "/api/v1/audit/events/", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "audit-event-detail": (
        "GET",
        lambda w: f"/api/v1/audit/events/{w['event'].pk}/",
        None,
        team_only() | {"anonymous": UNAUTHORIZED},
    ),
    "audit-diff": ("GET", lambda w: "/api/v1/audit/diff/", None, reviewers() | {"anonymous": UNAUTHORIZED}),
    # A path under /api/v1/ that is no endpoint: a JSON 404 for everyone, signed in or not.
    "api-not-found": ("GET", lambda w: "/api/v1/runs/0.5/cancel/", None, dict.fromkeys(ROLES, HIDDEN)),
    "audit-as-of": ("GET", lambda w: "/api/v1/audit/as-of/", None, reviewers() | {"anonymous": UNAUTHORIZED}),
    # The estate: everyone queries what they can see; only ops run bulk changes.
    "deployments:estate": ("GET", lambda w: reverse("deployments:estate") + "?q=bundle:echo", None, everyone()),
    "deployments:estate-suggest": ("GET", lambda w: reverse("deployments:estate-suggest") + "?q=par", None, everyone()),
    "deployments:estate-dimensions": ("GET", lambda w: reverse("deployments:estate-dimensions"), None, everyone()),
    "deployments:estate-saved-save": (
        "POST",
        lambda w: reverse("deployments:estate-saved-save"),
        {"name": "mine", "q": "bundle:echo"},
        writers(),
    ),
    "deployments:estate-saved-delete": (
        "POST",
        lambda w: reverse("deployments:estate-saved-delete", args=[w["saved"].pk]),
        {},
        # A saved query is its owner's: nobody else learns it exists.
        {"dev": OK, "teammate": HIDDEN, "outsider": HIDDEN, "ops": HIDDEN, "auditor": FORBIDDEN, "anonymous": LOGIN},
    ),
    "deployments:bulk-list": ("GET", lambda w: reverse("deployments:bulk-list"), None, ops_only()),
    "deployments:bulk-new": ("GET", lambda w: reverse("deployments:bulk-new"), None, ops_only()),
    "deployments:bulk-upgrade": (
        "POST",
        lambda w: reverse("deployments:bulk-upgrade", args=[w["run"].bundle_version_id]),
        {},
        ops_only(),
    ),
    "deployments:bulk": ("GET", lambda w: reverse("deployments:bulk", args=[w["bulk"].pk]), None, ops_only()),
    "deployments:bulk-action": (
        "POST",
        lambda w: reverse("deployments:bulk-action", args=[w["bulk"].pk]),
        {"action": "cancel"},
        ops_only(),
    ),
    "estate-list": ("GET", lambda w: "/api/v1/estate/?q=bundle:echo", None, everyone() | {"anonymous": UNAUTHORIZED}),
    # Costs: everyone reads the sums of what they can see (the selectors scope them).
    "deployments:costs": ("GET", lambda w: reverse("deployments:costs") + "?by=environment", None, everyone()),
    "cost-list": ("GET", lambda w: "/api/v1/costs/?by=project", None, everyone() | {"anonymous": UNAUTHORIZED}),
    "estate-dimensions": (
        "GET",
        lambda w: "/api/v1/estate/dimensions/",
        None,
        everyone() | {"anonymous": UNAUTHORIZED},
    ),
    "bulk-change-list": ("GET", lambda w: "/api/v1/bulk-changes/", None, ops_only() | {"anonymous": UNAUTHORIZED}),
    "bulk-change-detail": (
        "GET",
        lambda w: f"/api/v1/bulk-changes/{w['bulk'].pk}/",
        None,
        ops_only() | {"anonymous": UNAUTHORIZED},
    ),
    "bulk-change-targets": (
        "GET",
        lambda w: f"/api/v1/bulk-changes/{w['bulk'].pk}/targets/",
        None,
        ops_only() | {"anonymous": UNAUTHORIZED},
    ),
    "bulk-change-dry-run": (
        "POST",
        lambda w: f"/api/v1/bulk-changes/{w['bulk'].pk}/dry-run/",
        {},
        ops_only() | {"anonymous": UNAUTHORIZED},
    ),
    "bulk-change-rollout": (
        "POST",
        lambda w: f"/api/v1/bulk-changes/{w['bulk'].pk}/rollout/",
        {},
        ops_only() | {"anonymous": UNAUTHORIZED},
    ),
    "bulk-change-cancel": (
        "POST",
        lambda w: f"/api/v1/bulk-changes/{w['bulk'].pk}/cancel/",
        {},
        ops_only() | {"anonymous": UNAUTHORIZED},
    ),
    # The sandbox cloud's console: everyone signed in reads it; reviewers change nothing.
    "sandbox:console": ("GET", lambda w: reverse("sandbox:console"), None, everyone()),
    "sandbox:resource": ("GET", lambda w: w["cloud_resource"].get_absolute_url(), None, everyone()),
    "sandbox:resource-edit": (
        "POST",
        lambda w: reverse("sandbox:resource-edit", args=[w["cloud_resource"].pk]),
        {},
        writers(),
    ),
    "sandbox:resource-delete": (
        "POST",
        lambda w: reverse("sandbox:resource-delete", args=[w["cloud_resource"].pk]),
        {"confirm": "not-its-name"},
        writers(),
    ),
    "sandbox:resource-metrics": (
        "POST",
        lambda w: reverse("sandbox:resource-metrics", args=[w["cloud_resource"].pk]),
        {"metric/storage_used_percent": "not a number"},
        writers(),
    ),
    # Its API takes only the sandbox's own token, as a cloud takes only its credentials: no session.
    "sandbox:api-kinds": ("GET", lambda w: "/sandbox/api/v1/kinds/", None, dict.fromkeys(ROLES, UNAUTHORIZED)),
    "sandbox:api-resources": ("GET", lambda w: "/sandbox/api/v1/resources/", None, dict.fromkeys(ROLES, UNAUTHORIZED)),
    "sandbox:api-resource": (
        "GET",
        lambda w: f"/sandbox/api/v1/resources/{w['cloud_resource'].pk}/",
        None,
        dict.fromkeys(ROLES, UNAUTHORIZED),
    ),
    "sandbox:api-events": ("GET", lambda w: "/sandbox/api/v1/events/", None, dict.fromkeys(ROLES, UNAUTHORIZED)),
    "sandbox:api-metrics": (
        "POST",
        lambda w: f"/sandbox/api/v1/resources/{w['cloud_resource'].pk}/metrics/",
        {},
        dict.fromkeys(ROLES, UNAUTHORIZED) | {"auditor": FORBIDDEN},  # reviewers are refused any write first
    ),
    "sandbox:api-deliveries": (
        "GET",
        lambda w: "/sandbox/api/v1/deliveries/",
        None,
        dict.fromkeys(ROLES, UNAUTHORIZED),
    ),
    # A deployment's alarm webhook takes only its own token: a session, even ops', is not enough.
    "alarm-webhook": (
        "POST",
        lambda w: reverse("alarm-webhook", args=[w["deployment"].pk]),
        {},
        dict.fromkeys(ROLES, UNAUTHORIZED) | {"auditor": FORBIDDEN},  # reviewers are refused any write first
    ),
    # The state backend takes only a running run's credentials: a session, even ops', is not enough.
    "state": ("GET", lambda w: reverse("state", args=[w["deployment"].pk]), None, dict.fromkeys(ROLES, UNAUTHORIZED)),
    "state-lock": (
        "LOCK",
        lambda w: reverse("state-lock", args=[w["deployment"].pk]),
        {},
        dict.fromkeys(ROLES, UNAUTHORIZED) | {"auditor": FORBIDDEN},  # reviewers are refused any write first
    ),
}


def url_names():
    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                yield from walk(
                    pattern.url_patterns, namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
                )
            elif isinstance(pattern, URLPattern):
                yield namespace + (pattern.name or f"<unnamed {pattern.pattern}>")

    return set(walk(get_resolver().url_patterns))


def test_every_route_has_an_access_rule():
    missing = sorted(url_names() - set(RULES))
    assert not missing, f"routes without a rule in {__file__}: {missing}"
    stale = sorted(set(RULES) - url_names())
    assert not stale, f"rules for routes that no longer exist: {stale}"


@pytest.fixture
def world(dev, teammate, outsider, ops, auditor, catalog, proto_env, other_env):
    deployment = services.deployment_create(
        environment=proto_env, name="shared", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )
    run = deployment.runs.get()
    run.transition("running")
    run.transition("succeeded")
    deployment.sensitive_outputs = encrypt(json.dumps({"token": "t0ps3cret"}).encode())
    deployment.save()
    artifact_store(
        deployment=deployment,
        declared={"name": "endpoint", "type": "http-endpoint"},
        payload={"specs": {"url": "https://shared.test"}, "data": {}},
    )
    exception = ExceptionRequest.objects.create(
        environment=proto_env,
        bundle_version=catalog["echo"],
        name="other",
        params={},
        violations={},
        fields=[],
        policy_version=1,
        reason="test",
        requested_by_name="dev",
        status=ExceptionRequest.Status.REJECTED,
    )
    from audit.models import AuditEvent
    from deployments.models import BulkChange, SavedQuery

    saved = SavedQuery.objects.create(name="mine-already", query="bundle:echo", owner=dev)
    bulk = BulkChange.objects.create(title="t", query="bundle:echo", created_by=ops, created_by_name="ops")

    from portal.sandbox.services import resource_create

    cloud_resource = resource_create(
        kind="bucket", name="in-the-cloud", attributes={}, tags={}, actor="api: t"
    ).resource

    from deployments.drift.models import DriftCheck

    drift_check = DriftCheck.objects.create(
        deployment=deployment,
        status="drifted",
        resources=[
            {
                "address": "terraform_data.echo",
                "type": "terraform_data",
                "name": "echo",
                "action": "changed",
                "words": "terraform_data.echo was changed outside Slipway: input.",
                "changes": [{"path": "input", "before": "hi", "after": "ho"}],
            }
        ],
    )

    from deployments.environments.models import EnvironmentRun

    env_run = EnvironmentRun.objects.create(
        environment=proto_env, action="plan", status="succeeded", levels=1, requested_by_name="dev"
    )

    return {
        "env_run": env_run,
        "cloud_resource": cloud_resource,
        "drift_check": drift_check,
        "deployment": deployment,
        "run": run,
        "exception": exception,
        "event": AuditEvent.objects.filter(target_id=str(deployment.pk)).first(),
        "history_id": deployment.history.first().history_id,
        "team_history_id": proto_env.project.team.history.first().history_id,
        "saved": saved,
        "bulk": bulk,
        "users": {"dev": dev, "teammate": teammate, "outsider": outsider, "ops": ops, "auditor": auditor},
    }


def outcome(response) -> str:
    code = response.status_code
    if code == 302 and "/accounts/login/" in response.get("Location", ""):
        return LOGIN
    if code == 401 or (code == 403 and "WWW-Authenticate" in response):
        return UNAUTHORIZED
    return {403: FORBIDDEN, 404: HIDDEN}.get(code, OK if code < 500 else f"server error {code}")


def test_each_role_gets_exactly_what_its_rule_says(world):
    mismatches = []
    for role in ROLES:
        client = Client()
        if role != "anonymous":
            client.force_login(world["users"][role])
        for name, (method, build, body, expected) in sorted(RULES.items()):
            if name == "logout":
                continue  # it ends this client's session; covered on its own below
            url = build(world)
            if method == "GET":
                response = client.get(url)
            elif method == "POST" and name.startswith(("bundles:", "deployments:", "audit:", "sandbox:", "logout")):
                response = client.post(url, body)
            else:
                response = client.generic(method, url, json.dumps(body), content_type="application/json")
            got = outcome(response)
            want = expected[role]
            if got != want and not (want == UNAUTHORIZED and got == FORBIDDEN and role == "anonymous"):
                mismatches.append(f"{role:9} {method:4} {name:28} expected {want}, got {got} ({response.status_code})")
    assert not mismatches, "\n" + "\n".join(mismatches)


def test_signing_out_works_for_everyone(world):
    for role in ROLES:
        client = Client()
        if role != "anonymous":
            client.force_login(world["users"][role])
        assert client.post(reverse("logout")).status_code == 302


def test_a_state_backend_credential_is_not_a_session(world):
    auth = "Basic " + base64.b64encode(b"ops:whatever").decode()
    assert Client().get(reverse("state", args=[world["deployment"].pk]), HTTP_AUTHORIZATION=auth).status_code == 401
