"""Issue 15's first acceptance, on PostgreSQL, Redis, a real worker, the engine and the sandbox cloud: an
environment of a network and a postgres, and a web-service using both, torn down and deployed with one API
call each, level by level; a database the cloud refuses stops the web-service level and says why."""

import time

import pytest
from django.urls import reverse

from deployments.environments.models import EnvironmentRun
from deployments.models import Deployment, Run
from portal.sandbox.models import Resource
from portal.sandbox.services import resource_create, resource_delete
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WEB = {"image": "ghcr.io/acme/checkout:1.4.2", "port": 8080, "cpu": 0.5, "memory_mb": 1024}


def api(client, path, body=None):
    return client.post(f"/api/v1/{path}", body or {}, content_type="application/json")


def created(client, environment, bundle, name, params, connections=None):
    body = {"environment": environment.pk, "name": name, "bundle": bundle, "params": params}
    if connections:
        body["connections"] = connections
    answer = api(client, "deployments/", body)
    assert answer.status_code == 201, answer.content
    run = wait_for_run(Run.objects.get(pk=answer.json()["run"]["id"]), timeout=180)
    assert run.status == "succeeded", run.error
    return Deployment.objects.get(pk=answer.json()["id"])


def finished(env_run_id, timeout=400) -> EnvironmentRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        env_run = EnvironmentRun.objects.get(pk=env_run_id)
        if not env_run.is_active:
            return env_run
        time.sleep(0.5)
    steps = list(env_run.steps.values_list("deployment__name", "status", "run__status"))
    pytest.fail(f"environment run #{env_run_id} still running after {timeout}s: {env_run.message} {steps}")


def in_order(env_run):
    """Each level's runs started only after every run of the level before had finished."""
    levels = {}
    for step in env_run.steps.select_related("run"):
        levels.setdefault(step.level, []).append(step.run)
    for level in range(1, len(levels)):
        before = max(r.finished_at for r in levels[level - 1])
        assert all(r.started_at >= before for r in levels[level] if r is not None), f"level {level + 1} started early"


def test_an_environment_torn_down_and_deployed_in_level_order(celery_worker, dev_client, catalog, proto_env):
    network = created(dev_client, proto_env, "network", "main-net", {"cidr_block": "10.0.0.0/16"})
    db = created(dev_client, proto_env, "postgres", "orders-db", {"size": "small", "storage_gb": 20})
    web = created(
        dev_client, proto_env, "web-service", "checkout-web", WEB, {"network": "main-net", "database": "orders-db"}
    )

    # Teardown: one call, the web service first, the network last.
    refused = api(dev_client, f"environments/{proto_env.pk}/teardown/", {"confirm": "Prototype"})
    assert refused.status_code == 400 and "Type the environment's name, proto" in refused.json()["message"]
    answer = api(dev_client, f"environments/{proto_env.pk}/teardown/", {"confirm": "proto", "reason": "night"})
    assert answer.status_code == 202, answer.content
    teardown = finished(answer.json()["id"])
    assert teardown.status == "succeeded", teardown.message
    # The database and the network use nothing (one level, at once); the web service uses both.
    assert [[s.deployment.name for s in teardown.steps.filter(level=n)] for n in range(2)] == [
        ["checkout-web"],
        ["main-net", "orders-db"],
    ]
    in_order(teardown)
    assert set(Deployment.objects.values_list("status", flat=True)) == {"destroyed"}
    assert not Resource.objects.exists()

    # The cloud refuses the database (its name is taken): the web-service level never starts.
    squatter = resource_create(
        kind="database", name=db.name_prefix, attributes={"size": "small", "storage_gb": 20}, tags={}, actor="test"
    )
    answer = api(dev_client, f"environments/{proto_env.pk}/deploy/", {"reason": "morning"})
    assert answer.status_code == 202, answer.content
    failed = finished(answer.json()["id"])
    assert failed.status == "failed"
    steps = {s.deployment.name: s for s in failed.steps.all()}
    assert steps["main-net"].status == "succeeded" and steps["orders-db"].status == "failed"
    assert steps["checkout-web"].status == "not_started" and steps["checkout-web"].run is None
    assert failed.error.startswith("orders-db failed: ") and "Could not create sandbox_database" in failed.error
    assert (
        failed.message == "Stopped at level 1 of 2: orders-db failed; 1 deployment in the levels after it not started."
    )
    assert Deployment.objects.get(pk=web.pk).status == "destroyed"
    assert not web.runs.filter(created_at__gt=failed.created_at).exists()

    # The name is free again: the same call deploys all three, producers first.
    resource_delete(resource_id=squatter.resource.pk, actor="test")
    answer = api(dev_client, f"environments/{proto_env.pk}/deploy/")
    deployed = finished(answer.json()["id"])
    assert deployed.status == "succeeded", f"{deployed.message} {deployed.error}"
    in_order(deployed)
    for deployment in (network, db, web):
        deployment.refresh_from_db()
        assert deployment.status == "live"
    assert web.outputs["environment"]["DATABASE_HOST"] == db.outputs["host"]
    page = dev_client.get(reverse("deployments:canvas", args=[proto_env.pk])).content.decode()
    assert page.count('data-step="succeeded"') == 3 and "All 3 deployments deployed, in 2 levels." in page
