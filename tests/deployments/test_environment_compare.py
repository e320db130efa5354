"""Comparing two environments: deployments matched by name, versions, params and connections that differ,
secrets compared but never shown, and what exists in only one; the page, the API and the access rule."""

import pytest
from django.urls import reverse

from deployments.choices import Tier
from deployments.environments.compare import as_data, environment_diff
from deployments.models import Deployment, Environment
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db


@pytest.fixture
def staging(project):
    return Environment.objects.create(project=project, slug="staging", name="Staging", tier=Tier.STAGING)


@pytest.fixture
def pair(catalog, proto_env, staging, dev):
    """proto and staging: the same notes (another message), databases with other passwords and sizes, a web
    app connected to a differently named database, and one deployment each that the other lacks."""
    create(proto_env, catalog, "echo", "notes", dev, params={"message": "hello", "copies": 2})
    create(staging, catalog, "echo", "notes", dev, params={"message": "hello staging", "copies": 2})
    live(create(proto_env, catalog, "datastore", "orders-db", dev, params={"password": "proto-secret-1"}))
    live(
        create(staging, catalog, "datastore", "orders-db", dev, params={"password": "staging-secret", "size": "large"})
    )
    live(create(staging, catalog, "datastore", "orders-db-2", dev, params={"password": "staging-secret"}))
    create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"})
    create(staging, catalog, "webapp", "shop", dev, connections={"database": "orders-db-2"})
    create(proto_env, catalog, "echo", "scratch", dev, params={"message": "x"})
    create(staging, catalog, "echo", "same", dev, params={"message": "y"})
    create(proto_env, catalog, "echo", "same", dev, params={"message": "y"})
    return proto_env, staging


def test_it_lists_every_difference_by_name(pair):
    proto, staging = pair
    diff = environment_diff(proto, staging)
    assert [d.name for d in diff.only_a] == ["scratch"]
    assert [d.name for d in diff.only_b] == ["orders-db-2"]
    by_name = {p.name: p for p in diff.pairs}
    assert sorted(by_name) == ["notes", "orders-db", "same", "shop"]
    assert by_name["same"].same and not by_name["notes"].same
    assert [(v.pointer, v.label, v.a, v.b) for v in by_name["notes"].params] == [
        ("/message", "Message", "hello", "hello staging")
    ]
    db = {v.pointer: v for v in by_name["orders-db"].params}
    assert db["/password"].sensitive and (db["/password"].a, db["/password"].b) == ("(sensitive)", "(sensitive)")
    assert (db["/size"].a, db["/size"].b) == ("small (default)", "large")  # the default, shown as such, not "(not set)"
    assert [(c.name, c.a, c.b) for c in by_name["shop"].connections] == [("database", "orders-db", "orders-db-2")]
    assert by_name["shop"].params == [] and not by_name["shop"].version_differs


def test_the_same_secret_does_not_differ_and_no_secret_is_ever_shown(pair):
    proto, staging = pair
    data = as_data(environment_diff(proto, staging))
    assert "proto-secret-1" not in str(data) and "staging-secret" not in str(data)
    theirs = Deployment.objects.get(environment=staging, name="orders-db").params["password"]
    mine = Deployment.objects.get(environment=proto, name="orders-db")
    Deployment.objects.filter(pk=mine.pk).update(params={**mine.params, "password": theirs})
    db = next(p for p in environment_diff(proto, staging).pairs if p.name == "orders-db")
    assert [v.pointer for v in db.params] == ["/size"]


def test_the_page_and_the_api_answer_the_same(pair, dev_client):
    proto, staging = pair
    page = dev_client.get(reverse("deployments:env-compare", args=[proto.pk]), {"with": staging.pk}).content.decode()
    assert 'data-pair="same" data-same="yes"' in page and 'data-pair="notes" data-same="no"' in page
    assert 'data-connection="database"' in page and "orders-db-2" in page and "proto-secret-1" not in page
    assert '<tr data-only="a"><td><a href="' in page
    answer = dev_client.get(f"/api/v1/environments/{proto.pk}/diff/", {"other": staging.pk})
    assert answer.status_code == 200
    body = answer.json()
    assert body["a"] == "checkout/proto" and body["b"] == "checkout/staging" and body["same"] is False
    assert [d["name"] for d in body["only_in_a"]] == ["scratch"]
    assert dev_client.get(f"/api/v1/environments/{proto.pk}/diff/", {"other": "x"}).status_code == 400
    # The environment page offers the comparison.
    canvas = dev_client.get(reverse("deployments:canvas", args=[proto.pk])).content.decode()
    assert f'<option value="{staging.pk}">checkout/staging</option>' in canvas


def test_an_environment_you_cannot_see_cannot_be_compared(pair, other_env, dev_client):
    proto, _ = pair
    assert dev_client.get(f"/api/v1/environments/{proto.pk}/diff/", {"other": other_env.pk}).status_code == 404
    page = reverse("deployments:env-compare", args=[proto.pk])
    assert dev_client.get(page, {"with": other_env.pk}).status_code == 404
