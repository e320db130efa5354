"""Resource types and artifacts in the API: types read-only, artifacts with sensitive data masked and shown in
clear only through an audited reveal; an environment's graph (what ``slipway env graph`` prints)."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.deployments.test_canvas import wired  # noqa: F401 (the fixture: network, postgres, web-service)
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db

PASSWORD = "pw-0123456789"


@pytest.fixture
def api(dev):
    client = APIClient()
    client.force_authenticate(dev)
    return client


@pytest.fixture
def reviewer(auditor):
    client = APIClient()
    client.force_authenticate(auditor)
    return client


def test_resource_types_are_listed_newest_version_first_and_read_one_by_one(api, catalog):
    listed = api.get("/api/v1/resource-types/").json()
    names = [t["name"] for t in listed["results"]]
    assert names == sorted(names) and {"network", "postgresql", "bucket", "queue", "http-endpoint"} <= set(names)
    one = api.get("/api/v1/resource-types/postgresql/").json()
    assert one["title"] and one["versions"][0] == one["version"]
    assert one["data_schema"]["properties"]["password"]["x-sensitive"] is True
    assert "host" in one["specs_schema"]["properties"]
    assert api.post("/api/v1/resource-types/", {}, format="json").status_code == 405
    assert api.get("/api/v1/resource-types/nothing/").status_code == 404


def test_artifacts_show_specs_and_mask_sensitive_data_for_everyone_who_may_see_them(
    api, reviewer, catalog, proto_env, dev
):
    db = live(create(proto_env, catalog, "postgres", "orders-db", dev))
    for client in (api, reviewer):
        response = client.get(f"/api/v1/deployments/{db.pk}/artifacts/")
        assert response.status_code == 200
        [artifact] = response.json()
        assert artifact["name"] == "database" and artifact["type"] == "postgresql" and artifact["serial"] == 1
        assert artifact["specs"]["host"] == "db.internal"
        assert artifact["data"]["username"] == "app"  # not sensitive
        assert artifact["data"]["password"].startswith("(sensitive:")
        assert PASSWORD not in response.content.decode()


def test_an_artifacts_data_is_revealed_only_to_who_may_change_it_and_each_reveal_is_audited(
    api, reviewer, catalog, proto_env, dev
):
    db = live(create(proto_env, catalog, "postgres", "orders-db", dev))
    url = f"/api/v1/deployments/{db.pk}/artifacts/database/reveal/"
    refused = reviewer.post(url)
    assert refused.status_code == 403
    assert not AuditEvent.objects.filter(event_type="secret.revealed").exists()
    shown = api.post(url)
    assert shown.status_code == 200
    assert shown.json() == {
        "name": "database",
        "type": "postgresql",
        "serial": 1,
        "data": {"username": "app", "password": PASSWORD},
    }
    event = AuditEvent.objects.get(event_type="secret.revealed")
    assert (event.actor_name, event.channel, event.target_id) == ("dev", "api", str(db.pk))
    assert event.data == {"artifact": "database", "type": "postgresql", "serial": 1}
    assert api.post(f"/api/v1/deployments/{db.pk}/artifacts/nothing/reveal/").status_code == 404


def test_the_environment_graph_lists_layers_connections_and_open_ports(api, wired, proto_env):  # noqa: F811
    graph = api.get(f"/api/v1/environments/{proto_env.pk}/graph/").json()
    assert graph["environment"] == "checkout/proto"
    nodes = {n["name"]: n for n in graph["nodes"]}
    assert graph["nodes"][0]["name"] == "checkout-web"  # consumers first
    assert nodes["checkout-web"]["layer"] == 1 and nodes["main-net"]["layer"] == nodes["orders-db"]["layer"] == 0
    assert nodes["main-net"]["default_of"] == ["network"]
    assert nodes["checkout-web"]["open_connections"] == ["assets", "jobs"]
    assert nodes["checkout-web"]["run"]["status"] == "queued"
    assert graph["edges"] == [
        {"consumer": "checkout-web", "connection": "database", "producer": "orders-db", "type": "postgresql"},
        {"consumer": "checkout-web", "connection": "network", "producer": "main-net", "type": "network"},
    ]


def test_an_exception_asked_through_the_api_carries_its_connections(api, catalog, proto_env, dev):
    from tests.deployments.test_policy import set_overlays

    first = live(create(proto_env, catalog, "datastore", "first-db", dev))
    live(create(proto_env, catalog, "datastore", "second-db", dev))
    set_overlays(proto_env, {"webapp": {"properties": {"replicas": {"maximum": 2}}}})
    body = {
        "environment": proto_env.pk,
        "name": "shop",
        "bundle": "webapp",
        "params": {"replicas": 4},
        "connections": {"database": "first-db"},
        "reason": "the sale needs four",
    }
    response = api.post("/api/v1/exceptions/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["connections"] == {"database": str(first.pk)}  # by name in, resolved to the id

    unknown = api.post("/api/v1/exceptions/", {**body, "connections": {"database": "gone-db"}}, format="json")
    assert unknown.status_code == 400
    assert "there is no deployment 'gone-db' in checkout/proto" in str(unknown.json())
