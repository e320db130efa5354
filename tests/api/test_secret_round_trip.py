"""Issue 11, item 14: secrets through the API. A client reads a deployment (its secret comes back as a mask),
changes one other param and sends everything back: the secret is unchanged. ``null`` removes it; a mask on a
new deployment stands for nothing and is refused. Checked in the engine's inputs, through an audited reveal."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from deployments import secrets
from deployments.models import Deployment
from portal.models import APIToken
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SECRET = "s3cret-api-key-0042"


@pytest.fixture
def api(dev):
    client = APIClient()
    _, key = APIToken.issue(user=dev, name="round-trip")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def finished(api, run_id) -> dict:
    from deployments.models import Run

    run = wait_for_run(Run.objects.get(pk=run_id))
    assert run.status == "succeeded", run.error
    return api.get(f"/api/v1/runs/{run_id}/").json()


def reveal(api, deployment_id) -> str:
    response = api.post(f"/api/v1/deployments/{deployment_id}/outputs/api_key_echo/reveal/")
    assert response.status_code == 200, response.content
    return response.json()["value"]


def test_a_read_modify_write_through_the_api_keeps_the_secret(celery_worker, api, dev, catalog, proto_env):
    body = {
        "environment": proto_env.pk,
        "name": "round-trip",
        "bundle": "workbench",
        "params": {"message": "hello", "api_key": SECRET},
    }
    created = api.post("/api/v1/deployments/", body, format="json")
    assert created.status_code == 201, created.content
    deployment_id = created.json()["id"]
    finished(api, created.json()["run"]["id"])

    read = api.get(f"/api/v1/deployments/{deployment_id}/").json()
    assert secrets.is_mask(read["params"]["api_key"]) and SECRET not in str(read)
    changed = {**read["params"], "message": "changed"}
    applied = api.post(
        f"/api/v1/deployments/{deployment_id}/apply/",
        {"params": changed, "expected_version": read["version"]},
        format="json",
    )
    assert applied.status_code == 202, applied.content
    finished(api, applied.json()["id"])

    deployment = Deployment.objects.get(pk=deployment_id)
    # The API fills the schema's defaults on create, as the form does (generation, sleep_seconds).
    assert deployment.full_params() == created.json()["params"] | {"message": "changed", "api_key": SECRET}
    assert reveal(api, deployment_id) == SECRET  # what the engine holds: its input, unchanged
    assert AuditEvent.objects.filter(event_type__contains="reveal", actor_name="dev").exists()

    # null removes the secret (the module's default, "", is what the engine gets then).
    read = api.get(f"/api/v1/deployments/{deployment_id}/").json()
    applied = api.post(
        f"/api/v1/deployments/{deployment_id}/apply/", {"params": {**read["params"], "api_key": None}}, format="json"
    )
    assert applied.status_code == 202, applied.content
    finished(api, applied.json()["id"])
    remaining = Deployment.objects.get(pk=deployment_id).full_params()
    assert "api_key" not in remaining and remaining["message"] == "changed"
    assert reveal(api, deployment_id) == ""


def test_a_mask_on_a_new_deployment_stands_for_nothing_and_is_refused(api, catalog, proto_env):
    body = {
        "environment": proto_env.pk,
        "name": "masked",
        "bundle": "workbench",
        "params": {"message": "hello", "api_key": "(sensitive:0123abcd)"},
    }
    response = api.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400 and "/params/api_key" in response.json()["errors"]
    assert not Deployment.objects.filter(name="masked").exists()


def test_the_openapi_schema_states_the_rule():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    for name in ("DeploymentApplyRequest", "DeploymentCreateRequest", "Deployment"):
        assert "send null to remove it" in components[name]["properties"]["params"]["description"], name
