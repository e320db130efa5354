"""Promote: a deployment's configuration (or a whole environment's) taken to another environment through the
target's policy: in-policy changes go through with the basis "promoted from ...", out-of-policy ones become
exception requests, what the module cannot do is refused in words, connections are re-pointed by name,
``x-copyable: false`` values stay the target's; the review before, the access rule, the page and the API."""

import copy

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from audit.models import AuditEvent
from deployments.choices import RunAction, RunStatus, Tier
from deployments.environments.promote import (
    EXCEPTION,
    IN_POLICY,
    REFUSED,
    UNCHANGED,
    environment_promote,
    promote_plan,
)
from deployments.models import Deployment, Environment, ExceptionRequest, Run
from deployments.policy import services as decisions
from portal.errors import Conflict
from tests.deployments.test_connections import create, live
from tests.deployments.test_policy import set_overlays

pytestmark = pytest.mark.django_db


@pytest.fixture
def staging(project):
    return Environment.objects.create(project=project, slug="staging", name="Staging", tier=Tier.STAGING)


@pytest.fixture
def pair(catalog, staging, prod_env, dev):
    """staging and production: the same database (other size, other password), a web app with more replicas in
    staging, wired in production to an older database; notes only in staging."""
    live(create(staging, catalog, "datastore", "orders-db", dev, params={"size": "large", "password": "staging-pw-1"}))
    live(create(staging, catalog, "webapp", "shop", dev, params={"replicas": 3}, connections={"database": "orders-db"}))
    create(staging, catalog, "echo", "notes", dev, params={"message": "v2"})
    live(create(prod_env, catalog, "datastore", "orders-db", dev, params={"password": "production-pw-1"}))
    live(create(prod_env, catalog, "datastore", "old-db", dev, params={"password": "production-pw-2"}))
    live(create(prod_env, catalog, "webapp", "shop", dev, connections={"database": "old-db"}))
    return staging, prod_env


def target(env, name):
    return Deployment.objects.get(environment=env, name=name)


def test_the_plan_says_what_changes_in_the_target_before_anything_runs(pair):
    staging, prod = pair
    runs = Run.objects.count()
    plan = promote_plan(source=staging, target=prod)
    steps = {s.name: s for s in plan.steps}
    assert [s.name for s in plan.steps] == ["notes", "orders-db", "shop"]  # producers first, then by name
    db = steps["orders-db"]
    assert db.verdict == IN_POLICY and [(c.label, c.before, c.after) for c in db.changes] == [
        ("Size", "small (default)", "large")  # production takes the default, shown as such
    ]
    assert db.kept == ["/password"]  # x-copyable: false: production keeps its own
    shop = steps["shop"]
    assert [(c.name, c.before, c.after) for c in shop.connection_changes] == [("database", "old-db", "orders-db")]
    assert [(c.before, c.after) for c in shop.changes] == [("1 (default)", "3")]
    notes = steps["notes"]
    assert notes.creates and notes.verdict == IN_POLICY
    assert [(c.label, c.before, c.after) for c in notes.changes] == [("Message", "(not set)", "v2")]
    assert "staging-pw-1" not in str(plan.as_data()) and "production-pw-1" not in str(plan.as_data())
    assert Run.objects.count() == runs and plan.fingerprint == promote_plan(source=staging, target=prod).fingerprint


def test_an_in_policy_promotion_goes_through_with_the_basis_in_history(pair, dev):
    staging, prod = pair
    done = environment_promote(source=staging, target=prod, actor=dev, reason="release 42")
    outcomes = {o.name: o.outcome for o in done.outcomes}
    assert outcomes == {"orders-db": "changed", "notes": "created", "shop": "changed"}
    db = target(prod, "orders-db")
    assert db.full_params() == {"size": "large", "password": "production-pw-1"}  # its own password kept
    row = db.history.latest()
    assert row.history_basis.startswith("promoted from checkout/staging/orders-db by dev; approved by policy")
    assert row.history_change_reason == "promoted from checkout/staging/orders-db by dev: release 42"
    assert db.runs.latest("created_at").approval_basis.startswith("promoted from checkout/staging/orders-db by dev")
    shop = target(prod, "shop")
    assert shop.connections == {"database": str(db.pk)} and shop.params == {"replicas": 3}  # re-pointed by name
    assert target(prod, "notes").params == {"message": "v2"}
    event = AuditEvent.objects.get(event_type="environment.promoted")
    assert event.data["source"] == "checkout/staging" and event.target_id == str(prod.pk)
    assert {d["name"]: d["outcome"] for d in event.data["deployments"]} == outcomes
    assert "pw" not in str(event.data)
    again = promote_plan(source=staging, target=prod)
    assert {s.verdict for s in again.steps} == {UNCHANGED}


def test_out_of_policy_becomes_an_exception_request_that_ops_approve(pair, dev, ops, client):
    staging, prod = pair
    set_overlays(prod, {"webapp": {"properties": {"replicas": {"maximum": 2}}}})
    plan = promote_plan(source=staging, target=prod, deployment="shop")
    assert [s.verdict for s in plan.steps] == [EXCEPTION] and "/replicas" in plan.steps[0].problems
    done = environment_promote(
        source=staging, target=prod, actor=dev, deployment="shop", expected_plan=plan.fingerprint
    )
    [outcome] = done.outcomes
    client.force_login(ops)
    request = ExceptionRequest.objects.get(pk=outcome.exception)
    assert outcome.outcome == "exception" and request.reason == "promoted from checkout/staging/shop by dev"
    shop = target(prod, "shop")
    assert shop.params == {} and request.connections == {"database": str(target(prod, "orders-db").pk)}
    page = client.get(reverse("deployments:exception", args=[request.pk])).content.decode()
    assert '<tr data-asked="connection"><th scope="row">Database (connection)</th><td>orders-db</td>' in page
    decisions.exception_approve(request=request, actor=ops, comment="fine for the launch")
    shop.refresh_from_db()
    assert shop.params == {"replicas": 3} and shop.connections == {"database": str(target(prod, "orders-db").pk)}


def test_a_value_that_may_only_increase_is_refused_in_words(pair, dev, catalog):
    staging, prod = pair
    version = catalog["datastore"]
    schema = copy.deepcopy(version.params_schema)
    schema["properties"]["size"]["x-only-increase"] = True
    version.params_schema = schema
    version.save()
    db = target(prod, "orders-db")
    Deployment.objects.filter(pk=db.pk).update(params={**db.params, "size": "large"})
    Run.objects.create(deployment=db, action=RunAction.APPLY, status=RunStatus.SUCCEEDED, bundle_version=version)
    Deployment.objects.filter(environment=staging, name="orders-db").update(params={"size": "small"})
    plan = promote_plan(source=staging, target=prod, deployment="orders-db")
    [step] = plan.steps
    assert step.verdict == REFUSED and "Size can only increase: it is large now" in step.message
    runs, requests = Run.objects.count(), ExceptionRequest.objects.count()
    [outcome] = environment_promote(source=staging, target=prod, actor=dev, deployment="orders-db").outcomes
    assert outcome.outcome == "refused" and "can only increase" in outcome.message
    assert (Run.objects.count(), ExceptionRequest.objects.count()) == (runs, requests)


def test_a_plan_that_changed_since_the_review_is_refused(pair, dev):
    staging, prod = pair
    reviewed = promote_plan(source=staging, target=prod).fingerprint
    Deployment.objects.filter(environment=staging, name="notes").update(params={"message": "v3"})
    with pytest.raises(Conflict, match="review the plan again"):
        environment_promote(source=staging, target=prod, actor=dev, expected_plan=reviewed)
    assert not Deployment.objects.filter(environment=prod, name="notes").exists()


def test_a_new_consumer_of_a_new_producer_waits_for_it_saying_so(catalog, staging, prod_env, dev):
    live(create(staging, catalog, "datastore", "cache-db", dev, params={"password": "staging-pw-1"}))
    live(create(staging, catalog, "webapp", "app", dev, connections={"database": "cache-db"}))
    steps = {s.name: s for s in promote_plan(source=staging, target=prod_env).steps}
    assert steps["cache-db"].creates and steps["cache-db"].verdict == IN_POLICY
    assert steps["app"].verdict == REFUSED
    assert "cache-db is created in checkout/production by this promotion" in steps["app"].message
    done = environment_promote(source=staging, target=prod_env, actor=dev)
    assert {o.name: o.outcome for o in done.outcomes} == {"cache-db": "created", "app": "refused"}
    assert target(prod_env, "cache-db").full_params() == {}  # its password is not copied (and has no rule)


def test_no_access_to_the_target_is_refused(pair, dev, other_env, dev_client):
    staging, _ = pair
    with pytest.raises(PermissionDenied):
        environment_promote(source=staging, target=other_env, actor=dev)
    answer = dev_client.post(
        f"/api/v1/environments/{staging.pk}/promote/", {"target": other_env.pk}, content_type="application/json"
    )
    assert answer.status_code in (400, 403, 404) and not AuditEvent.objects.filter(event_type="environment.promoted")


def test_the_api_plans_then_promotes(pair, dev_client):
    staging, prod = pair
    url = f"/api/v1/environments/{staging.pk}/promote/"
    plan = dev_client.get(url, {"target": prod.pk, "deployment": "shop"})
    assert plan.status_code == 200, plan.content
    body = plan.json()
    assert body["deployments"][0]["connections"] == [
        {"name": "database", "title": "Database", "before": "old-db", "after": "orders-db"}
    ]
    stale = dev_client.post(url, {"target": prod.pk, "deployment": "shop", "plan": "0" * 20}, "application/json")
    assert stale.status_code == 409
    done = dev_client.post(
        url, {"target": prod.pk, "deployment": "shop", "plan": body["plan"], "reason": "r"}, "application/json"
    )
    assert done.status_code == 202, done.content
    assert [(d["name"], d["outcome"]) for d in done.json()["deployments"]] == [("shop", "changed")]
    assert dev_client.post(url, {"target": "x"}, "application/json").status_code == 400


def test_the_review_page_shows_the_changes_then_promotes(pair, dev_client):
    staging, prod = pair
    url = reverse("deployments:env-promote", args=[staging.pk])
    page = dev_client.get(url, {"to": prod.pk}).content.decode()
    assert 'data-promote="shop" data-verdict="in_policy"' in page and "old-db" in page and "staging-pw-1" not in page
    fingerprint = page.split('name="plan" value="')[1].split('"')[0]
    answer = dev_client.post(url, {"to": prod.pk, "plan": fingerprint, "reason": "ship it"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    result = dev_client.get(answer["Location"]).content.decode()
    assert 'data-outcome="changed"' in result and 'data-outcome="created"' in result
    compare = dev_client.get(reverse("deployments:env-compare", args=[staging.pk]), {"with": prod.pk})
    assert reverse("deployments:env-promote", args=[staging.pk]) in compare.content.decode()
    detail = dev_client.get(target(staging, "shop").get_absolute_url()).content.decode()
    assert f"{reverse('deployments:env-promote', args=[staging.pk])}?deployment=shop" in detail


def test_hostile_or_stale_input_is_answered_in_words(pair, dev_client, other_env):
    staging, prod = pair
    url = f"/api/v1/environments/{staging.pk}/promote/"
    for query in ({}, {"target": "x"}, {"target": "99999999999999999999"}, {"target": "-1"}):
        assert dev_client.get(url, query).status_code == 400, query
    assert dev_client.get(url, {"target": prod.pk, "deployment": "nope"}).status_code == 400
    for body in ({"target": "1"}, {"target": 2**40}, {"target": prod.pk, "reason": 0}, {"target": prod.pk, "plan": 1}):
        assert dev_client.post(url, body, "application/json").status_code == 400, body
    assert dev_client.post(url, {"target": staging.pk}, "application/json").status_code == 400  # itself
    page = reverse("deployments:env-promote", args=[staging.pk])
    assert dev_client.get(page, {"to": "99999999999999999999"}).status_code == 404
    stale = dev_client.post(page, {"to": prod.pk, "plan": "stale"})
    assert stale.status_code == 400 and "review the plan again" in stale.content.decode()
    assert 'name="plan" value="' in stale.content.decode()  # the plan as it stands, to review again
    assert not AuditEvent.objects.filter(event_type="environment.promoted").exists()
    assert dev_client.get(page, {"to": other_env.pk}).status_code == 404  # not even visible


def test_read_only_access_to_the_target_is_refused_on_the_page(pair, client, auditor):
    staging, prod = pair
    client.force_login(auditor)  # reads everything, changes nothing
    page = client.get(reverse("deployments:env-promote", args=[staging.pk]), {"to": prod.pk})
    assert page.status_code == 403 and "cannot change checkout/production" in page.content.decode()
    with pytest.raises(PermissionDenied):
        environment_promote(source=staging, target=prod, actor=auditor)


def test_the_plan_says_what_each_change_costs_a_month(catalog, staging, prod_env, dev):
    from deployments import services

    for env, size in ((staging, "medium"), (prod_env, "small")):  # $159.30 and $54.30 a month
        services.deployment_create(
            environment=env, name="db", bundle_version=catalog["postgres"], params={"size": size}, actor=dev
        )
    services.deployment_create(
        environment=staging, name="db-2", bundle_version=catalog["postgres"], params={"size": "small"}, actor=dev
    )
    steps = {s.name: s for s in promote_plan(source=staging, target=prod_env).steps}
    assert steps["db"].cost == "this change adds $105/month" and steps["db"].verdict == IN_POLICY
    assert steps["db-2"].cost == "this adds $54.30/month"
