"""A retried write with the same Idempotency-Key is answered from the first one; nothing runs twice."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests
from django.db import connection
from rest_framework.test import APIClient

from deployments.models import Deployment, Run
from portal.models import APIToken, IdempotencyKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(dev):
    client = APIClient()
    client.force_authenticate(dev)
    return client


def create_body(env, name="jobs", message="hi"):
    return {"environment": env.pk, "name": name, "bundle": "echo", "params": {"message": message}}


def test_the_same_create_sent_twice_with_one_key_gives_one_deployment_and_one_run(api, catalog, proto_env):
    key = str(uuid.uuid4())
    first = api.post("/api/v1/deployments/", create_body(proto_env), format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = api.post("/api/v1/deployments/", create_body(proto_env), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert Deployment.objects.count() == 1
    assert Run.objects.count() == 1


def test_without_a_key_a_repeated_create_is_refused_by_the_service(api, catalog, proto_env):
    assert api.post("/api/v1/deployments/", create_body(proto_env), format="json").status_code == 201
    repeated = api.post("/api/v1/deployments/", create_body(proto_env), format="json")
    assert repeated.status_code == 400
    assert Deployment.objects.count() == 1


def test_the_same_key_with_a_different_body_is_refused_with_422(api, catalog, proto_env):
    key = "retry-1"
    first = api.post("/api/v1/deployments/", create_body(proto_env), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201
    other = api.post(
        "/api/v1/deployments/", create_body(proto_env, message="else"), format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert other.status_code == 422
    assert "already used for a different request" in other.json()["message"]
    assert other.json()["errors"] == {}
    assert Deployment.objects.count() == 1


def test_keys_are_per_user_and_per_endpoint(api, teammate, catalog, proto_env):
    key = "shared-key"
    api.post("/api/v1/deployments/", create_body(proto_env), format="json", HTTP_IDEMPOTENCY_KEY=key)
    other = APIClient()
    other.force_authenticate(teammate)
    theirs = other.post(
        "/api/v1/deployments/", create_body(proto_env, name="theirs"), format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs
    deployment = Deployment.objects.get(name="jobs")
    plan = api.post(f"/api/v1/deployments/{deployment.pk}/plan/", {}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert plan.status_code == 202 and "Idempotent-Replayed" not in plan
    assert IdempotencyKey.objects.count() == 3


def test_a_refused_request_keeps_no_key_so_a_corrected_retry_runs(api, catalog, proto_env):
    key = "fix-and-retry"
    bad = api.post(
        "/api/v1/deployments/",
        {**create_body(proto_env), "params": {"message": 5}},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert bad.status_code == 400
    good = api.post("/api/v1/deployments/", create_body(proto_env), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert good.status_code == 201 and "Idempotent-Replayed" not in good


def test_apply_and_destroy_run_once_per_key(api, dev, catalog, proto_env):
    from deployments import services

    deployment = services.deployment_create(
        environment=proto_env, name="once", bundle_version=catalog["echo"], params={"message": "a"}, actor=dev
    )
    deployment.runs.update(status="succeeded")
    url = f"/api/v1/deployments/{deployment.pk}/"
    body = {"params": {"message": "b"}}
    first = api.post(url + "apply/", body, format="json", HTTP_IDEMPOTENCY_KEY="apply-1")
    again = api.post(url + "apply/", body, format="json", HTTP_IDEMPOTENCY_KEY="apply-1")
    assert first.status_code == again.status_code == 202, first.json()
    assert first.json()["id"] == again.json()["id"]
    destroy = {"confirm": "once"}
    one = api.post(url + "destroy/", destroy, format="json", HTTP_IDEMPOTENCY_KEY="destroy-1")
    two = api.post(url + "destroy/", destroy, format="json", HTTP_IDEMPOTENCY_KEY="destroy-1")
    assert one.status_code == two.status_code == 202, one.json()
    assert one.json()["id"] == two.json()["id"]
    assert deployment.runs.count() == 3  # create, apply, destroy: each once


def test_a_key_must_be_printable_and_not_too_long(api, catalog, proto_env):
    response = api.post("/api/v1/deployments/", create_body(proto_env), format="json", HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["message"]
    assert not Deployment.objects.exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises writers with a database lock, not row locks: concurrent duplicates race for the "
    "lock and may fail with 'database is locked' instead of waiting on the key's unique constraint, so the "
    "outcome depends on timing. The guarantee is PostgreSQL's (a production database).",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_deployment(live_server, dev, catalog, proto_env):
    _, token = APIToken.issue(user=dev, name="race")
    url = f"{live_server.url}/api/v1/deployments/"
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": "race-1"}
    barrier = threading.Barrier(6)
    responses = []

    def send():
        barrier.wait()
        responses.append(requests.post(url, json=create_body(proto_env), headers=headers, timeout=30))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Deployment.objects.count() == 1 and Run.objects.count() == 1
    ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert ids == {str(Deployment.objects.get().pk)}
    # Each duplicate got the first response, or (if it raced the first one's rollback) was told to retry.
    assert all(r.status_code in (201, 409) for r in responses), [r.status_code for r in responses]
    assert sum(r.status_code == 201 for r in responses) >= 1
