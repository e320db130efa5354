"""Deploying, planning and tearing down an environment as a unit: the levels of its connection graph, one
level at a time, a failure stopping the levels after it; every door (service, page, API) and the audit trail.

The runs are finished here by hand (the runner's own ``finish``), so the order is checked step by step;
tests/deployments/test_environments_acceptance.py does it with a real worker and the engine."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from deployments.choices import DeploymentStatus, RunAction, RunStatus
from deployments.environments.graph import layers
from deployments.environments.models import EnvironmentRun
from deployments.environments.services import environment_run_cancel, environment_run_drive, environment_run_start
from deployments.models import Deployment, Run
from deployments.runs.runner import finish
from portal.errors import Conflict, ServiceError
from portal.models import Membership
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db


@pytest.fixture
def stack(catalog, proto_env, dev):
    """datastore <- webapp <- relay (each connected to the one before), and a lone echo: three levels."""
    db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    app = live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"}))
    edge = live(create(proto_env, catalog, "relay", "edge", dev, connections={"upstream": "shop"}))
    echo = live(create(proto_env, catalog, "echo", "notes", dev, params={"message": "hi"}))
    for run in Run.objects.filter(status=RunStatus.QUEUED):  # the creates' own applies: out of the way
        done(run)
    return {"db": db, "app": app, "edge": edge, "echo": echo}


def done(run, status=RunStatus.SUCCEEDED, error=""):
    """Finish a run as the runner does once the engine is done."""
    run.refresh_from_db()
    run.transition(RunStatus.RUNNING, worker="test")
    finish(run, status, error)


def runs_of(env_run, level):
    return {s.deployment.name: s.run for s in env_run.steps.filter(level=level).select_related("deployment", "run")}


def test_the_levels_follow_the_connections(stack):
    ordered = layers(Deployment.objects.filter(environment=stack["db"].environment))
    assert [[d.name for d in layer] for layer in ordered] == [["notes", "orders-db"], ["shop"], ["edge"]]


def test_deploy_goes_level_by_level_and_each_level_runs_at_once(stack, proto_env, dev):
    env_run = environment_run_start(environment=proto_env, action="deploy", actor=dev, reason="release")
    assert env_run.levels == 3 and env_run.level == 0
    first = runs_of(env_run, 0)
    assert set(first) == {"notes", "orders-db"} and all(r.action == RunAction.APPLY for r in first.values())
    assert runs_of(env_run, 1) == {"shop": None}  # not started while its producer's level runs
    done(first["notes"])
    environment_run_drive(env_run.pk)
    assert runs_of(env_run, 1) == {"shop": None}
    done(first["orders-db"])
    environment_run_drive(env_run.pk)
    env_run.refresh_from_db()
    assert env_run.level == 1 and runs_of(env_run, 1)["shop"] is not None
    assert "release" in runs_of(env_run, 1)["shop"].reason
    done(runs_of(env_run, 1)["shop"])
    environment_run_drive(env_run.pk)
    done(runs_of(env_run, 2)["edge"])
    assert environment_run_drive(env_run.pk) is False
    env_run.refresh_from_db()
    assert env_run.status == "succeeded" and env_run.message == "All 4 deployments deployed, in 3 levels."
    events = list(
        AuditEvent.objects.filter(event_type__startswith="environment.")
        .order_by("id")
        .values_list("event_type", "actor_name")
    )
    assert events == [("environment.deploy_requested", "dev"), ("environment.deploy_succeeded", "system")]


def test_a_failure_stops_the_levels_above_and_says_which_and_why(stack, proto_env, dev):
    env_run = environment_run_start(environment=proto_env, action="deploy", actor=dev)
    first = runs_of(env_run, 0)
    done(first["orders-db"], RunStatus.FAILED, "Error: the disk is full.")
    environment_run_drive(env_run.pk)
    env_run.refresh_from_db()
    assert env_run.status == "running"  # notes is still running: its level finishes first
    assert "orders-db failed, so no further level will start" in env_run.message
    done(first["notes"])
    environment_run_drive(env_run.pk)
    env_run.refresh_from_db()
    assert env_run.status == "failed"
    assert env_run.error == "orders-db failed: Error: the disk is full."
    assert env_run.message == (
        "Stopped at level 1 of 3: orders-db failed; 2 deployments in the levels after it not started."
    )
    assert {s.deployment.name: s.status for s in env_run.steps.all()} == {
        "notes": "succeeded",
        "orders-db": "failed",
        "shop": "not_started",
        "edge": "not_started",
    }
    assert not Run.objects.filter(deployment=stack["app"], created_at__gt=env_run.created_at).exists()
    event = AuditEvent.objects.get(event_type="environment.deploy_failed")
    assert event.data["failed"] == ["orders-db"] and event.data["not_started"] == 2


def test_teardown_needs_the_name_and_destroys_consumers_first(stack, proto_env, dev):
    with pytest.raises(ServiceError, match=r"Type the environment's name, proto, to confirm\."):
        environment_run_start(environment=proto_env, action="teardown", actor=dev, confirm="Prototype")
    env_run = environment_run_start(environment=proto_env, action="teardown", actor=dev, confirm="proto")
    assert [set(runs_of(env_run, level)) for level in range(3)] == [{"edge"}, {"shop"}, {"notes", "orders-db"}]
    edge_run = runs_of(env_run, 0)["edge"]
    assert edge_run.action == RunAction.DESTROY and runs_of(env_run, 1) == {"shop": None}
    done(edge_run)
    environment_run_drive(env_run.pk)
    done(runs_of(env_run, 1)["shop"])
    environment_run_drive(env_run.pk)
    for run in runs_of(env_run, 2).values():
        done(run)
    environment_run_drive(env_run.pk)
    env_run.refresh_from_db()
    assert env_run.status == "succeeded"
    assert set(Deployment.objects.values_list("status", flat=True)) == {DeploymentStatus.DESTROYED}

    # Deploying again brings back what the teardown destroyed, producers first.
    again = environment_run_start(environment=proto_env, action="deploy", actor=dev)
    assert set(runs_of(again, 0)) == {"notes", "orders-db"}
    assert Deployment.objects.get(name="orders-db").status == DeploymentStatus.DEPLOYING
    assert "deploy of checkout/proto" in Deployment.objects.get(name="orders-db").history.latest().history_change_reason


def test_a_deployment_destroyed_on_its_own_stays_destroyed(stack, proto_env, dev):
    Deployment.objects.filter(pk=stack["echo"].pk).update(status=DeploymentStatus.DESTROYED)
    env_run = environment_run_start(environment=proto_env, action="deploy", actor=dev)
    assert "notes" not in {s.deployment.name for s in env_run.steps.all()}


def test_one_environment_wide_action_at_a_time(stack, proto_env, dev):
    env_run = environment_run_start(environment=proto_env, action="plan", actor=dev)
    assert {r.action for r in runs_of(env_run, 0).values()} == {RunAction.PLAN}
    with pytest.raises(Conflict, match="is already being planned"):
        environment_run_start(environment=proto_env, action="deploy", actor=dev)
    environment_run_cancel(env_run=env_run, actor=dev)
    env_run.refresh_from_db()
    assert env_run.status == "cancelled" and env_run.steps.filter(status="not_started").count() == 2
    assert AuditEvent.objects.filter(event_type="environment.plan_cancelled").exists()


def test_a_held_plan_holds_its_level(stack, proto_env, dev):
    env_run = environment_run_start(environment=proto_env, action="deploy", actor=dev)
    first = runs_of(env_run, 0)
    done(first["notes"])
    first["orders-db"].refresh_from_db()
    first["orders-db"].transition(RunStatus.RUNNING, worker="test")
    finish(first["orders-db"], RunStatus.AWAITING_APPROVAL, "")
    environment_run_drive(env_run.pk)
    env_run.refresh_from_db()
    assert env_run.status == "running" and env_run.level == 0
    assert "orders-db waits for a person" in env_run.message


def test_the_environment_page_offers_the_actions_and_shows_the_levels(stack, proto_env, dev_client):
    page = dev_client.get(reverse("deployments:canvas", args=[proto_env.pk])).content.decode()
    assert "Deploy all" in page and "Tear down…" in page
    response = dev_client.post(reverse("deployments:env-deploy", args=[proto_env.pk]), {"action": "deploy"})
    assert response.status_code == 302
    env_run = EnvironmentRun.objects.get()
    page = dev_client.get(reverse("deployments:canvas", args=[proto_env.pk])).content.decode()
    assert 'data-level="1" data-status="running"' in page and 'data-level="3" data-status="waiting"' in page
    assert 'data-node="shop" data-status="live" data-step="waiting"' in page
    assert 'hx-trigger="every 3s"' in page
    detail = dev_client.get(env_run.get_absolute_url()).content.decode()
    assert 'data-step="orders-db" data-status="running"' in detail


def test_the_teardown_page_asks_for_the_name(stack, proto_env, dev_client):
    url = reverse("deployments:env-teardown", args=[proto_env.pk])
    page = dev_client.get(url).content.decode()
    assert "Type <code>proto</code> to confirm" in page and "orders-db" in page
    refused = dev_client.post(url, {"confirm": "nope"})
    assert (
        refused.status_code == 400
        and "Type the environment&#x27;s name, proto, to confirm." in refused.content.decode()
    )
    assert not EnvironmentRun.objects.exists()
    assert dev_client.post(url, {"confirm": "proto"}).status_code == 302
    assert EnvironmentRun.objects.get().action == "teardown"


def test_the_api_starts_and_reports_an_environment_run(stack, proto_env, dev_client, outsider, client):
    answer = dev_client.post(
        f"/api/v1/environments/{proto_env.pk}/deploy/", {"reason": "ci"}, content_type="application/json"
    )
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["action"] == "deploy" and body["levels"] == 3 and body["level"] == 1
    assert [(s["name"], s["level"], s["status"]) for s in body["steps"]] == [
        ("notes", 1, "running"),
        ("orders-db", 1, "running"),
        ("shop", 2, "waiting"),
        ("edge", 3, "waiting"),
    ]
    again = dev_client.post(f"/api/v1/environments/{proto_env.pk}/deploy/", {}, content_type="application/json")
    assert again.status_code == 409
    refused = dev_client.post(
        f"/api/v1/environments/{proto_env.pk}/teardown/", {"confirm": "x"}, content_type="application/json"
    )
    assert refused.status_code in (400, 409)
    listed = dev_client.get("/api/v1/environment-runs/", {"environment": proto_env.pk}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    client.force_login(outsider)
    assert client.get(f"/api/v1/environment-runs/{body['id']}/").status_code == 404
    assert (
        client.post(f"/api/v1/environments/{proto_env.pk}/deploy/", {}, content_type="application/json").status_code
        == 404
    )


def test_a_requester_who_loses_access_mid_run_stops_it_before_the_next_level(stack, proto_env, dev):
    env_run = environment_run_start(environment=proto_env, action="deploy", actor=dev, reason="release")
    first = runs_of(env_run, 0)
    Membership.objects.filter(user=dev).delete()  # dev leaves the team while level 1 runs
    for run in first.values():
        done(run)
    assert environment_run_drive(env_run.pk) is False
    env_run.refresh_from_db()
    assert env_run.status == "failed"
    assert env_run.message == (
        "Stopped before level 2 of 3: dev may no longer change checkout/proto; 2 deployments not started. "
        "Someone who may change checkout/proto can start it again."
    )
    assert env_run.error == (
        "Stopped: dev may no longer change checkout/proto, so the runs asked for in their name stop here."
    )
    assert runs_of(env_run, 1) == {"shop": None} and runs_of(env_run, 2) == {"edge": None}
    assert not Run.objects.filter(deployment__in=[stack["app"], stack["edge"]], created_at__gt=env_run.created_at)
    event = AuditEvent.objects.get(event_type="environment.deploy_failed")
    assert event.data["stopped"] == "dev may no longer change checkout/proto" and event.data["not_started"] == 2


def test_a_deactivated_requester_stops_the_run_too(stack, proto_env, dev):
    env_run = environment_run_start(environment=proto_env, action="deploy", actor=dev)
    type(dev).objects.filter(pk=dev.pk).update(is_active=False)
    for run in runs_of(env_run, 0).values():
        done(run)
    environment_run_drive(env_run.pk)
    env_run.refresh_from_db()
    assert env_run.status == "failed" and "dev's account was deactivated" in env_run.message
