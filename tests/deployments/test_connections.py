"""Wiring deployments together: which producer fills a connection, refused ones in words, cycles, safety."""

import pytest

from deployments import services
from deployments.choices import DeploymentStatus
from deployments.connections.selectors import candidates, consumers
from deployments.connections.services import artifact_store
from deployments.models import Deployment
from portal.errors import ParamsInvalid, ServiceError

pytestmark = pytest.mark.django_db

PG_SPECS = {"host": "db.internal", "port": 5432, "database": "app", "version": "16"}


def live(deployment, *, specs=None, data=None):
    """The deployment as after a successful apply: live, with its artifact published."""
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.LIVE)
    deployment.refresh_from_db()
    for declared in deployment.bundle_version.artifacts:
        payload = {"specs": specs or {}, "data": data or {}}
        if declared["type"] == "postgresql":
            payload = {"specs": specs or PG_SPECS, "data": data or {"username": "app", "password": "pw-0123456789"}}
        elif declared["type"] == "http-endpoint":
            payload = {"specs": {"url": f"https://{deployment.name}.test", "internal_hostname": "x"}, "data": {}}
        artifact_store(deployment=deployment, declared=declared, payload=payload)
    return deployment


def create(env, catalog, bundle, name, dev, **kwargs):
    version = catalog[bundle]
    return services.deployment_create(
        environment=env, name=name, bundle_version=version, params=kwargs.pop("params", {}), actor=dev, **kwargs
    )


def test_a_connection_is_wired_by_name_and_kept_in_the_history(catalog, proto_env, dev):
    db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    app = create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"})
    assert app.connections == {"database": str(db.pk)}
    assert app.history.latest().connections == {"database": str(db.pk)}
    assert [d.name for d in consumers(db)] == ["shop"]


def test_a_required_connection_left_empty_is_explained(catalog, proto_env, dev):
    with pytest.raises(ParamsInvalid) as caught:
        create(proto_env, catalog, "webapp", "shop", dev)
    assert caught.value.errors == {
        "/connections/database": [
            f"Database is required: connect a postgresql of {proto_env} (there is none in {proto_env} yet: deploy "
            "one first)."
        ]
    }


def test_a_producer_that_has_not_applied_yet_is_explained(catalog, proto_env, dev):
    create(proto_env, catalog, "datastore", "orders-db", dev)
    with pytest.raises(ParamsInvalid) as caught:
        create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"})
    assert caught.value.errors["/connections/database"] == [
        "Database cannot be orders-db: orders-db has not applied successfully yet, so it publishes no postgresql yet."
    ]


def test_an_incompatible_producer_is_explained_in_words(catalog, proto_env, dev):
    live(create(proto_env, catalog, "datastore", "old-db", dev), specs={**PG_SPECS, "version": "14"})
    live(create(proto_env, catalog, "relay", "api", dev))
    with pytest.raises(ParamsInvalid) as caught:
        create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "old-db"})
    assert caught.value.errors["/connections/database"] == [
        "Database cannot be old-db: old-db: version is '14': '14' is not one of ['15', '16']"
    ]
    with pytest.raises(ParamsInvalid) as caught:
        create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "api"})
    assert (
        "Database cannot be api: api (relay@1.0.0) publishes no postgresql."
        in caught.value.errors["/connections/database"]
    )
    listed = candidates(proto_env, catalog["webapp"].connections[0])
    assert [(c.deployment.name, c.compatible) for c in listed] == [("old-db", False)]


def test_a_producer_of_another_environment_cannot_be_connected(catalog, proto_env, prod_env, dev):
    db = live(create(prod_env, catalog, "datastore", "orders-db", dev))
    with pytest.raises(ParamsInvalid) as caught:
        create(proto_env, catalog, "webapp", "shop", dev, connections={"database": str(db.pk)})
    assert caught.value.errors["/connections/database"] == [
        f"Database: there is no deployment '{db.pk}' in {proto_env}."
    ]


def test_a_connection_that_would_make_a_cycle_is_refused(catalog, proto_env, dev):
    a = live(create(proto_env, catalog, "relay", "a", dev))
    b = live(create(proto_env, catalog, "relay", "b", dev, connections={"upstream": "a"}))
    c = live(create(proto_env, catalog, "relay", "c", dev, connections={"upstream": "b"}))
    with pytest.raises(ParamsInvalid) as caught:
        services.deployment_update(deployment=a, params={}, actor=dev, connections={"upstream": "c"})
    assert caught.value.errors == {"/connections/upstream": ["This connection would make a cycle: a → c → b → a."]}
    with pytest.raises(ParamsInvalid) as caught:
        services.deployment_update(deployment=a, params={}, actor=dev, connections={"upstream": "a"})
    assert caught.value.errors == {"/connections/upstream": ["Upstream: a deployment cannot be connected to itself."]}
    a.refresh_from_db()
    assert a.connections == {}
    assert c.connections == {"upstream": str(b.pk)}


def test_an_unknown_connection_name_is_refused(catalog, proto_env, dev):
    live(create(proto_env, catalog, "datastore", "orders-db", dev))
    with pytest.raises(ParamsInvalid) as caught:
        create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db", "cache": "x"})
    assert caught.value.errors == {"/connections/cache": ["webapp 1.0.0 has no connection 'cache'."]}


def test_a_producer_with_live_consumers_cannot_be_destroyed(catalog, proto_env, dev):
    db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"}))
    live(create(proto_env, catalog, "webapp", "admin", dev, connections={"database": "orders-db"}))
    with pytest.raises(ServiceError) as caught:
        services.deployment_destroy(deployment=db, actor=dev)
    assert str(caught.value) == (
        "orders-db cannot be destroyed while admin (live), shop (live) are connected to it. Disconnect them first "
        "(change their connections, or destroy them), then destroy it."
    )
    assert not db.runs.filter(action="destroy").exists()
    Deployment.objects.filter(name__in=["shop", "admin"]).update(status=DeploymentStatus.DESTROYED)
    assert services.deployment_destroy(deployment=db, actor=dev).action == "destroy"


def test_an_unchanged_payload_is_not_a_new_artifact_version(catalog, proto_env, dev):
    db = live(create(proto_env, catalog, "datastore", "orders-db", dev))
    declared = db.bundle_version.artifacts[0]
    same = {"specs": PG_SPECS, "data": {"username": "app", "password": "pw-0123456789"}}
    assert artifact_store(deployment=db, declared=declared, payload=same)[1] is False
    changed = {"specs": {**PG_SPECS, "host": "db2.internal"}, "data": same["data"]}
    artifact, created = artifact_store(deployment=db, declared=declared, payload=changed)
    assert created and artifact.serial == 2
    assert b"pw-0123456789" not in bytes(artifact.data)
    assert artifact.payload() == changed


def test_the_api_creates_reads_and_changes_connections(dev_client, catalog, proto_env, dev):
    first = live(create(proto_env, catalog, "datastore", "first-db", dev))
    second = live(create(proto_env, catalog, "datastore", "second-db", dev))
    body = {"environment": proto_env.pk, "name": "shop", "bundle": "webapp", "connections": {"database": "first-db"}}
    created = dev_client.post("/api/v1/deployments/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["connections"] == {"database": str(first.pk)}
    shop = Deployment.objects.get(name="shop")
    live(shop)
    moved = dev_client.post(
        f"/api/v1/deployments/{shop.pk}/apply/",
        {"connections": {"database": str(second.pk)}},
        content_type="application/json",
    )
    assert moved.status_code == 202, moved.content
    assert dev_client.get(f"/api/v1/deployments/{shop.pk}/").json()["connections"] == {"database": str(second.pk)}
    refused = dev_client.post(
        f"/api/v1/deployments/{shop.pk}/apply/", {"connections": {"database": ""}}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "Database is required" in refused.content.decode() and "/connections/database" in refused.content.decode()
    destroy = dev_client.post(
        f"/api/v1/deployments/{second.pk}/destroy/", {"confirm": "second-db"}, content_type="application/json"
    )
    assert destroy.status_code in (400, 409) and "shop (deploying) is connected to it" in destroy.content.decode()
