"""The OpenAPI schema is complete: it validates with no warning, every body is typed, enums are named."""

import io

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    out = io.StringIO()
    with django_db_blocker.unblock():
        # --fail-on-warn turns "unable to guess serializer" and W001/W002 into a failure.
        call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def operations(schema):
    for path, item in schema["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_every_response_and_request_body_is_typed(schema):
    untyped = []
    for path, method, op in operations(schema):
        for code, response in op["responses"].items():
            body = response.get("content", {}).get("application/json", {}).get("schema")
            if code != "204" and not body:
                untyped.append(f"{method.upper()} {path} {code}")
            elif body and body.get("type") == "object" and not body.get("properties") and "$ref" not in body:
                untyped.append(f"{method.upper()} {path} {code}: a bare object")
        if "requestBody" in op and not op["requestBody"]["content"].get("application/json", {}).get("schema"):
            untyped.append(f"{method.upper()} {path} request")
    assert not untyped, untyped


def test_errors_share_one_documented_format(schema):
    for path, method, op in operations(schema):
        for code in ("400", "401", "403"):
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (method, path, code)
    assert schema["components"]["schemas"]["Error"]["required"] == ["errors", "message"]


def test_enums_are_named_components(schema):
    names = set(schema["components"]["schemas"])
    assert {"RunStatusEnum", "RunActionEnum", "DeploymentStatusEnum", "TierEnum", "ChannelEnum"} <= names
    for name, component in schema["components"]["schemas"].items():
        for prop, spec in (component.get("properties") or {}).items():
            assert "enum" not in spec, f"{name}.{prop} has an inline enum; name it in ENUM_NAME_OVERRIDES"


def test_writes_that_create_or_run_take_an_idempotency_key(schema):
    keyed = {
        (path, method)
        for path, method, op in operations(schema)
        if any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op.get("parameters", []))
    }
    for want in [
        ("/api/v1/deployments/", "post"),
        ("/api/v1/deployments/{id}/apply/", "post"),
        ("/api/v1/deployments/{id}/destroy/", "post"),
        ("/api/v1/bulk-changes/", "post"),
    ]:
        assert want in keyed


def test_a_created_deployment_links_to_its_run(schema):
    links = schema["paths"]["/api/v1/deployments/"]["post"]["responses"]["201"]["links"]
    assert links["v1_runs_logs_retrieve"]["parameters"] == {"id": "$response.body#/run/id"}
    assert links["v1_deployments_apply_create"]["parameters"] == {"id": "$response.body#/id"}


def test_an_event_filter_time_with_a_historic_offset_is_answered_not_a_500(auditor):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(auditor)
    response = client.get("/api/v1/audit/events/", {"created_before": "0200-12-07T06:02:37-23:19"})
    assert response.status_code == 200


def test_a_path_matching_no_endpoint_answers_json_even_with_a_line_break_in_it(client):
    for path in ("/api/v1/nothing/", "/api/v1/bundles/%C2%B1%0Ax/versions/"):
        response = client.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path
        assert response.json()["message"].startswith("No API endpoint at")
