"""The sandbox cloud's HTTP API, called as the provider and scripts call it: a bearer token, JSON in and out."""

import json
import time

import pytest
from django.conf import settings as django_settings

from portal.models import APIToken
from portal.sandbox.models import Event, Resource

pytestmark = pytest.mark.django_db
API = "/sandbox/api/v1"
DB = {"size": "small", "storage_gb": 20}


@pytest.fixture
def cloud(client):
    """A client holding the sandbox's own token, as the provider does."""
    token = django_settings.SLIPWAY_SANDBOX_TOKEN

    def call(method, path, body=None, *, raw=None, **headers):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return client.generic(
            method,
            API + path,
            data,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_USER_AGENT="tests",
            **headers,
        )

    return call


def create(cloud, kind="database", name="orders", attributes=None, **extra):
    response = cloud(
        "POST",
        "/resources/",
        {"kind": kind, "name": name, "attributes": DB if attributes is None else attributes, **extra},
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_it_refuses_every_request_without_the_sandbox_token(client, dev):
    slipway_token = APIToken.issue(user=dev, name="mine")[1]
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Token {slipway_token}"}):
        response = client.get(f"{API}/resources/", **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="sandbox"'
        assert "Bearer" in response.json()["message"]
    # A Slipway session is no cloud credential either.
    client.force_login(dev)
    assert client.post(f"{API}/resources/", {"kind": "bucket"}).status_code == 401
    assert not Resource.objects.exists()


def test_a_database_is_creating_until_its_time_has_passed_then_available(cloud, settings):
    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 0.02  # a database takes 20 s at 1.0: 0.4 s here
    created = create(cloud)
    assert created["status"] == "creating" and 0 < created["ready_in_seconds"] <= 0.4
    assert created["id"].startswith("db-")
    assert created["attributes"] == DB | {
        "engine_version": "16",
        "high_availability": False,
        "backup_retention_days": 7,
        "database_name": "app",
        "network_id": None,
    }
    assert created["computed"]["port"] == 5432 and created["computed"]["endpoint"].startswith("orders.")
    time.sleep(created["ready_in_seconds"] + 0.05)
    found = cloud("GET", f"/resources/{created['id']}/").json()
    assert (found["status"], found["ready_in_seconds"]) == ("available", 0)


def test_the_generated_password_is_returned_once_and_the_cloud_keeps_only_its_digest(cloud):
    created = create(cloud)
    password = created["secrets"]["password"]
    assert len(password) >= 24 and created["secrets_set"] == ["password"]
    found = cloud("GET", f"/resources/{created['id']}/").json()
    assert "secrets" not in found and password not in json.dumps(found)
    row = Resource.objects.values().get(pk=created["id"])
    assert password not in json.dumps(row, default=str)
    assert password not in json.dumps(list(Event.objects.values("changes")))
    # A password the client chooses is never echoed back.
    chosen = create(cloud, name="chosen", attributes=DB | {"password": "a-password-of-mine"})
    assert "secrets" not in chosen and "a-password-of-mine" not in json.dumps(chosen)


def test_invalid_requests_get_every_problem_by_json_pointer(cloud):
    response = cloud(
        "POST",
        "/resources/",
        {"kind": "database", "name": "x", "attributes": {"size": "huge", "storage_gb": 10.5, "colour": "red"}},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "The database's attributes are not valid."
    assert body["errors"]["/attributes/size"] == ["Must be one of: small, medium, large, xlarge."]
    assert "Must be a whole number." in body["errors"]["/attributes/storage_gb"]
    assert body["errors"]["/attributes/colour"] == ["Databases have no attribute 'colour'."]
    assert cloud("POST", "/resources/", {"kind": "mainframe", "name": "x"}).json()["errors"]["/kind"]
    assert cloud("POST", "/resources/", {"kind": "bucket", "name": "no spaces"}).json()["errors"]["/name"]
    assert cloud("POST", "/resources/", {"kind": "bucket", "name": "b", "owner": "me"}).json()["errors"]["/owner"]
    missing = cloud("POST", "/resources/", {"kind": "database", "name": "x", "attributes": {}}).json()
    assert missing["errors"]["/attributes/size"] == ["This attribute is required."]
    assert not Resource.objects.exists()


@pytest.mark.parametrize(
    "raw, status",
    [
        ('{"kind": "bucket", "name": "a\\u0000b"}', 400),
        ('{"kind": "bucket", "name": "\\ud800"}', 400),
        ('{"kind": "database", "name": "n", "attributes": {"size": "small", "storage_gb": NaN}}', 400),
        ('{"kind": "database", "name": "n", "attributes": {"size": "small", "storage_gb": 1e999}}', 400),
        ('{"kind": "database", "name": "n", "attributes": {"size": "small", "storage_gb": ' + "9" * 5000 + "}}", 400),
        ("[" * 60000, 400),
        ("[1, 2]", 400),
        ("{not json", 400),
        ('{"kind": "bucket", "name": "big", "tags": {"k": "' + "x" * 70000 + '"}}', 413),
    ],
    ids=["nul", "surrogate", "nan", "infinity", "huge-integer", "deep", "not-an-object", "not-json", "too-large"],
)
def test_it_refuses_what_it_cannot_store_with_a_json_error_not_a_500(cloud, raw, status):
    response = cloud("POST", "/resources/", raw=raw)
    assert response.status_code == status, response.content[:300]
    assert response.json()["message"]
    assert not Resource.objects.exists()


def test_a_name_is_taken_until_the_resource_is_gone(cloud):
    first = create(cloud, kind="bucket", name="assets", attributes={})
    taken = cloud("POST", "/resources/", {"kind": "bucket", "name": "assets"})
    assert taken.status_code == 409 and taken.json()["errors"] == {"/name": ["Already taken."]}
    create(cloud, kind="queue", name="assets", attributes={})  # another kind may use it
    assert cloud("DELETE", f"/resources/{first['id']}/").json() == {"id": first["id"], "status": "deleted"}
    create(cloud, kind="bucket", name="assets", attributes={})


def test_it_changes_in_place_what_can_change_and_refuses_what_cannot(cloud):
    created = create(cloud)
    url = f"/resources/{created['id']}/"
    changed = cloud("PATCH", url, {"attributes": {"storage_gb": 50}, "tags": {"team": "payments"}})
    assert changed.status_code == 200
    body = changed.json()
    assert (body["attributes"]["storage_gb"], body["tags"], body["version"]) == (50, {"team": "payments"}, 2)
    # Nothing to change: no new version.
    assert cloud("PATCH", url, {"attributes": {"storage_gb": 50}}).json()["version"] == 2
    fixed = cloud("PATCH", url, {"attributes": {"database_name": "ledger", "size": "large"}})
    assert fixed.status_code == 400
    assert fixed.json()["errors"] == {
        "/attributes/database_name": ["Cannot be changed in place: create a new resource with the new value."]
    }
    assert Resource.objects.get(pk=created["id"]).attributes["size"] == "small"  # all or nothing
    stale = cloud("PATCH", url, {"attributes": {"size": "large"}, "expected_version": 1})
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["message"]
    events = cloud("GET", f"/events/?resource={created['id']}").json()["results"]
    assert [e["action"] for e in events] == ["update", "create"]
    assert events[0]["changes"]["storage_gb"] == [20, 50] and events[0]["actor"] == "api: tests"


def test_a_busy_resource_refuses_a_second_change_until_it_is_available(cloud, settings):
    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 10  # nothing completes during this test
    created = create(cloud)
    busy = cloud("PATCH", f"/resources/{created['id']}/", {"attributes": {"storage_gb": 30}})
    assert busy.status_code == 409 and "is creating" in busy.json()["message"]


def test_a_deleted_resource_is_deleting_then_gone(cloud, settings):
    created = create(cloud, kind="queue", name="jobs", attributes={})
    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 0.1  # a queue takes 2 s to delete at 1.0
    deleting = cloud("DELETE", f"/resources/{created['id']}/")
    assert deleting.status_code == 202 and deleting.json()["status"] == "deleting"
    assert cloud("DELETE", f"/resources/{created['id']}/").status_code == 202  # twice is fine
    assert cloud("PATCH", f"/resources/{created['id']}/", {"attributes": {"retention_days": 5}}).status_code == 404
    time.sleep(0.25)
    gone = cloud("GET", f"/resources/{created['id']}/")
    assert gone.status_code == 404 and "does not exist" in gone.json()["message"]
    assert cloud("DELETE", f"/resources/{created['id']}/").status_code == 404


def test_lists_filter_by_kind_name_and_text_and_refuse_bad_parameters(cloud):
    create(cloud, name="orders")
    create(cloud, kind="bucket", name="orders-files", attributes={})
    create(cloud, kind="bucket", name="assets", attributes={})
    names = lambda query: [r["name"] for r in cloud("GET", f"/resources/{query}").json()["results"]]  # noqa: E731
    assert names("?kind=bucket") == ["assets", "orders-files"]
    assert names("?q=orders") == ["orders-files", "orders"]  # by kind, then name
    assert names("?kind=bucket&name=assets") == ["assets"]
    assert cloud("GET", "/resources/?limit=1").json()["count"] == 3
    assert len(cloud("GET", "/resources/?limit=1&offset=1").json()["results"]) == 1
    for query in ("?kind=mainframe", "?status=sleeping", "?limit=0", "?limit=x", "?offset=-1"):
        assert cloud("GET", f"/resources/{query}").status_code == 400, query
    assert cloud("PUT", "/resources/").status_code == 405


def test_the_kinds_describe_what_a_client_may_send(cloud):
    kinds = {k["kind"]: k for k in cloud("GET", "/kinds/").json()["results"]}
    assert set(kinds) == {"network", "database", "bucket", "queue", "service", "alarm"}
    fields = {f["name"]: f for f in kinds["database"]["fields"]}
    assert fields["database_name"]["replace_on_change"] is True
    assert fields["password"]["write_only"] is True
    assert fields["storage_gb"]["schema"]["minimum"] == 20
