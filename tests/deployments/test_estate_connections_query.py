"""The estate query over connections: ``connected_to:NAME`` (deployments wired to a producer of that name in their
own environment, or to PROJECT/ENV/NAME) and ``artifact.TYPE.specs.PATH`` (the newest published artifact's specs)."""

import pytest
from django.urls import reverse

from deployments.connections.services import artifact_store
from deployments.estate.dimensions import suggestions
from deployments.estate.query import QueryError, estate_query, matched_values, parse
from deployments.models import Deployment
from tests.deployments.test_connections import PG_SPECS, create, live

pytestmark = pytest.mark.django_db


def names(text):
    return sorted(estate_query(text).filter(Deployment.objects.all()).values_list("name", flat=True))


@pytest.fixture
def wired(catalog, proto_env, prod_env, dev):
    """Two environments with a database called orders-db each; shop and admin use proto's, billing prod's."""
    proto_db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    live(create(proto_env, catalog, "datastore", "old-db", dev), specs={**PG_SPECS, "version": "15"})
    prod_db = live(create(prod_env, catalog, "datastore", "orders-db", dev), specs={**PG_SPECS, "host": "prod.db"})
    create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"})
    create(proto_env, catalog, "webapp", "admin", dev, connections={"database": "old-db"})
    create(prod_env, catalog, "webapp", "billing", dev, connections={"database": "orders-db"})
    create(proto_env, catalog, "relay", "lonely", dev)  # optional connection left empty
    return {"proto_db": proto_db, "prod_db": prod_db}


def test_connected_to_a_name_finds_the_consumers_in_each_producers_environment(wired, proto_env):
    assert names("connected_to:orders-db") == ["billing", "shop"]
    assert names("connected_to:ORDERS-DB") == ["billing", "shop"]  # names ignore case, as they are unique
    assert names("connected_to:checkout/proto/orders-db") == ["shop"]
    assert names("connected_to:checkout/production/orders-db") == ["billing"]
    assert names("connected_to:old-db") == ["admin"]
    assert names("connected_to:nothing") == []
    assert names("connected_to:*") == ["admin", "billing", "shop"]
    assert names("-connected_to:orders-db bundle:webapp") == ["admin"]
    assert names("connected_to:orders-db OR connected_to:old-db env:proto") == ["admin", "billing", "shop"]


def test_artifact_specs_select_by_the_newest_published_version(wired):
    assert names("artifact.postgresql.specs.version:16") == ["orders-db", "orders-db"]
    assert names("artifact.postgresql.specs.version:15") == ["old-db"]
    assert names("artifact.postgresql.specs.host~prod") == ["orders-db"]
    assert names("artifact.postgresql.specs.port>=5432 env:proto") == ["old-db", "orders-db"]
    assert names("artifact.postgresql.specs.port:*") == ["old-db", "orders-db", "orders-db"]
    assert names("artifact.http-endpoint.specs.url:*") == []  # the consumers have not applied: nothing published
    # A newer version replaces what is searched: the old value no longer matches.
    db = wired["proto_db"]
    artifact_store(
        deployment=db,
        declared=db.bundle_version.artifacts[0],
        payload={"specs": {**PG_SPECS, "version": "17"}, "data": {"username": "app", "password": "pw-0123456789"}},
    )
    assert names("artifact.postgresql.specs.version:16") == ["orders-db"]
    assert names("artifact.postgresql.specs.version:17") == ["orders-db"]
    assert names("-artifact.postgresql.specs.version:16 bundle:datastore") == ["old-db", "orders-db"]


def test_the_results_show_the_producers_and_the_spec_values(wired):
    shop = Deployment.objects.get(name="shop")
    assert matched_values(shop, ["connected_to"]) == {"connected_to": "orders-db"}
    assert matched_values(wired["prod_db"], ["artifact.postgresql.specs.host"]) == {
        "artifact.postgresql.specs.host": "prod.db"
    }
    assert matched_values(shop, ["artifact.postgresql.specs.host"]) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("connected_to~orders", "`connected_to` names a deployment: it cannot be compared with `~`."),
        ("connected_to:a/b", "'a/b' is not a deployment."),
        ("artifact.postgresql.data.password:x", "reads an artifact's data, which may hold secrets"),
        ("artifact.postgresql.specs:x", "`artifact.postgresql.specs` is incomplete."),
        ("artifact.postgresql:x", "`artifact.postgresql` is incomplete."),
    ],
)
def test_mistakes_are_explained(text, message):
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert message in caught.value.message


def test_the_estate_page_answers_connection_queries(wired, dev_client):
    page = dev_client.get(reverse("deployments:estate"), {"q": "connected_to:checkout/proto/orders-db"})
    assert page.status_code == 200
    text = page.content.decode()
    assert ">shop</a>" in text and ">billing</a>" not in text
    empty = dev_client.get(reverse("deployments:estate")).content.decode()
    assert "connected_to:" in empty and "artifact.postgresql.specs.version:16" in empty


def test_the_query_box_suggests_connected_to_and_the_producers_names(wired):
    visible = Deployment.objects.all()
    assert "connected_to:" in suggestions("conn", [], visible)
    assert suggestions("connected_to:o", [], visible) == ["connected_to:old-db", "connected_to:orders-db"]
