"""Invalid params are refused by the form and by the API, each error beside its field, nothing queued."""

import json

import pytest
from django.urls import reverse

from deployments.models import Deployment, Run
from portal.models import APIToken

pytestmark = pytest.mark.django_db

VALID = {
    "size": "small",
    "storage_gb": 20,
    "high_availability": False,
    "backup_retention_days": 7,
    "database_name": "app",
}

# (case, change to VALID, JSON pointer that must carry the error, words the message must hold)
CASES = [
    ("out of range", {"storage_gb": 5}, "/storage_gb", "at least 20"),
    ("unknown enum value", {"size": "gigantic"}, "/size", "one of"),
    ("missing required", {"database_name": None}, "/database_name", "required"),
    ("wrong type", {"storage_gb": "lots"}, "/storage_gb", "whole number"),
    ("undeclared property", {"colour": "blue"}, "/colour", "does not declare"),
]


def params_with(change):
    params = {**VALID, **change}
    return {k: v for k, v in params.items() if v is not None}


@pytest.fixture
def strict_postgres(catalog):
    """postgres with database_name required and no default, so 'missing' is testable through both doors."""
    version = catalog["postgres"]
    schema = json.loads(json.dumps(version.params_schema))
    schema["required"] = sorted(set(schema.get("required", [])) | {"database_name"})
    schema["properties"]["database_name"].pop("default", None)
    version.params_schema = schema
    version.save()
    return version


@pytest.mark.parametrize(("case", "change", "pointer", "words"), CASES, ids=[c[0] for c in CASES])
def test_the_api_rejects_invalid_params_with_field_errors(
    client, dev, strict_postgres, proto_env, case, change, pointer, words
):
    _, key = APIToken.issue(user=dev, name="test")
    response = client.post(
        "/api/v1/deployments/",
        data=json.dumps(
            {"environment": proto_env.pk, "name": "db", "bundle": "postgres", "params": params_with(change)}
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["message"]
    messages = body["errors"]["/params" + pointer]
    assert any(words in m for m in messages), messages
    assert not Deployment.objects.exists()
    assert not Run.objects.exists()


@pytest.mark.parametrize(("case", "change", "pointer", "words"), CASES, ids=[c[0] for c in CASES])
def test_the_form_rejects_invalid_params_beside_the_field(
    dev_client, strict_postgres, proto_env, case, change, pointer, words
):
    data = {"environment": proto_env.pk, "name": "db"}
    for key, value in params_with(change).items():
        if isinstance(value, bool):
            if value:
                data[f"param/{key}"] = "on"
        else:
            data[f"param/{key}"] = str(value)
    response = dev_client.post(reverse("deployments:new", args=["postgres"]), data)
    page = response.content.decode()
    assert response.status_code == 400
    field_id = "f" + pointer.replace("/", "-")
    if case == "undeclared property":
        # No input stands for it, so the error is shown at the top of the form, naming it.
        assert "/colour: Unknown field &#x27;colour&#x27;: this bundle does not declare it." in page
    else:
        errors_start = page.index(f'id="{field_id}-errors"')
        assert words in page[errors_start : errors_start + 300]
        assert f'aria-describedby="{field_id}-help {field_id}-errors"' in page or f'{field_id}-errors"' in page
    assert not Deployment.objects.exists()
    assert not Run.objects.exists()


def test_a_non_object_params_body_is_a_400_not_a_500(client, dev, catalog, proto_env):
    client.force_login(dev)
    response = client.post(
        "/api/v1/deployments/",
        data=json.dumps({"environment": proto_env.pk, "name": "db", "bundle": "postgres", "params": [1, 2]}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "/params" in response.json()["errors"]


def test_a_bundle_name_with_a_nul_character_is_no_bundle_not_a_server_error(dev_client, proto_env, catalog):
    # Found by schemathesis while the drift endpoints were added.
    body = {"bundle": "p\x00g", "environment": proto_env.pk, "name": "x"}
    response = dev_client.post("/api/v1/deployments/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and "bundle" in str(response.json()["errors"])
