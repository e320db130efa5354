"""Pages a developer meets first, and the API's self-description."""

import re

import pytest
from django.urls import reverse

from deployments import services

pytestmark = pytest.mark.django_db


def test_the_catalog_shows_bundles_as_cards_with_a_deploy_button(dev_client, catalog):
    page = dev_client.get(reverse("bundles:catalog")).content.decode()
    for name in ("postgres", "object-storage", "web-service", "queue"):
        assert reverse("deployments:new", args=[name]) in page
    assert page.count('class="bundle-card"') >= 4


def test_the_bundle_page_documents_its_inputs_and_presets(dev_client, catalog):
    page = dev_client.get(reverse("bundles:detail", args=["postgres"])).content.decode()
    assert "Production (~$" in page and "Prototype (~$" in page
    assert "/storage_gb" in page


def test_the_new_deployment_form_labels_every_input(dev_client, catalog, proto_env):
    page = dev_client.get(reverse("deployments:new", args=["postgres"])).content.decode()
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", page)
    visible = [c for c in controls if 'type="hidden"' not in c]
    assert len(visible) >= 8
    for control in visible:
        html_id = re.search(r'\bid="([^"]+)"', control)
        assert html_id, f"control without an id: {control}"
        assert f'for="{html_id.group(1)}"' in page, f"no label for {html_id.group(1)}"
    assert "Small (" in page  # enum labels, not raw values


def test_the_overview_says_what_is_running(dev_client, dev, catalog, proto_env):
    services.deployment_create(
        environment=proto_env,
        name="cache",
        bundle_version=catalog["echo"],
        params={"message": "hi"},
        actor=dev,
        reason="load test next week",
    )
    page = dev_client.get(reverse("home")).content.decode()
    assert "Running now" in page and "checkout/proto/cache" in page and "load test next week" in page


def test_the_empty_overview_says_what_to_do_next(dev_client):
    page = dev_client.get(reverse("home")).content.decode()
    assert "No deployments yet" in page


def test_the_openapi_schema_and_docs_are_served_without_a_cdn(dev_client):
    schema = dev_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/bundles/",
        "/api/v1/deployments/",
        "/api/v1/runs/{id}/logs/",
        "/api/v1/bundles/{bundle_name}/versions/",
    ):
        assert path in paths, path
    docs = dev_client.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar" in docs
    assert "cdn.jsdelivr" not in docs and "unpkg" not in docs


def test_the_api_lists_bundles_and_their_versions(dev_client, catalog):
    body = dev_client.get("/api/v1/bundles/").json()
    assert {"postgres", "queue"} <= {b["name"] for b in body["results"]}
    detail = dev_client.get("/api/v1/bundles/postgres/").json()
    assert detail["latest"]["params_schema"]["type"] == "object"
    assert detail["latest"]["version"] == "2.5.0"
    versions = dev_client.get("/api/v1/bundles/postgres/versions/").json()
    assert [v["version"] for v in versions["results"]][:3] == ["2.5.0", "2.4.0", "2.3.0"]  # newest first
