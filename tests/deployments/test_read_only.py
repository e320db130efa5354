"""Read-only values (``readOnly: true`` in the schema, ``ui:readonly`` or ``ui:disabled`` in the ui) are set by
the bundle: the form draws them locked, and the server refuses a change to one beside its field, whichever
door it comes through (issue 12)."""

import copy
import json

import pytest
from django.urls import reverse

from deployments import services
from deployments.estate import bulk
from deployments.models import BulkChange, Deployment
from deployments.services import ParamsInvalid, read_only_changes

from .test_bulk import drive_until_settled

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {
        "owner": {"type": "string", "title": "Owner", "default": "platform"},
        "created_by": {"type": "string", "readOnly": True, "default": "portal"},
        "net": {"type": "object", "properties": {"zone": {"type": "string"}, "name": {"type": "string"}}},
        "ports": {"type": "array", "items": {"type": "integer"}},
        "note": {"type": "string"},
    },
}
UI = {"owner": {"ui:readonly": True}, "net": {"zone": {"ui:disabled": True}}}


def test_a_changed_read_only_value_is_refused_in_words_beside_its_field():
    current = {"owner": "platform", "created_by": "portal", "net": {"zone": "a", "name": "x"}}
    proposed = {"owner": "me", "created_by": "me", "net": {"zone": "b", "name": "y"}, "note": "n"}
    assert read_only_changes(SCHEMA, UI, current, proposed) == {
        "/owner": ["Owner is read-only: the bundle sets it, so it stays platform."],
        "/created_by": ["Created by is read-only: the bundle sets it, so it stays portal."],
        "/net/zone": ["Zone is read-only: the bundle sets it, so it stays a."],
    }
    assert read_only_changes(SCHEMA, UI, current, {**current, "note": "changed", "net": {"zone": "a"}}) == {}


def test_a_new_deployment_may_only_hold_the_bundles_value():
    defaults = {"owner": "platform", "created_by": "portal"}
    assert read_only_changes(SCHEMA, UI, {}, {"owner": "platform"}, defaults=defaults) == {}
    assert read_only_changes(SCHEMA, UI, {}, {}, defaults=defaults) == {}
    errors = read_only_changes(SCHEMA, UI, {}, {"owner": "me", "net": {"zone": "z"}}, defaults=defaults)
    assert errors == {
        "/owner": ["Owner is read-only: the bundle sets it, so it stays platform."],
        "/net/zone": ["Zone is read-only: the bundle sets it, so it stays not set."],
    }


def test_ui_for_array_items_makes_each_item_read_only():
    ui = {"ports": {"items": {"ui:readonly": True}}}
    assert read_only_changes(SCHEMA, ui, {"ports": [80]}, {"ports": [80]}) == {}
    assert set(read_only_changes(SCHEMA, ui, {"ports": [80]}, {"ports": [81, 82]})) == {"/ports/0", "/ports/1"}


@pytest.fixture
def locked_version(catalog):
    """postgres whose size the ui makes read-only and whose storage the schema does."""
    version = catalog["postgres"]
    schema = copy.deepcopy(version.params_schema)
    schema["properties"]["storage_gb"]["readOnly"] = True
    version.params_schema = schema
    version.ui_schema = {**(version.ui_schema or {}), "size": {"ui:readonly": True}}
    version.save()
    return version


PARAMS = {"size": "small", "storage_gb": 20, "high_availability": False, "backup_retention_days": 7}


@pytest.fixture
def database(dev, locked_version, proto_env):
    return services.deployment_create(
        environment=proto_env, name="db", bundle_version=locked_version, params=PARAMS, actor=dev
    )


def test_the_service_refuses_a_read_only_change_and_takes_the_rest(dev, database):
    with pytest.raises(ParamsInvalid) as caught:
        services.deployment_update(
            deployment=database, params={**PARAMS, "size": "large", "storage_gb": 500}, actor=dev
        )
    assert set(caught.value.errors) == {"/size", "/storage_gb"}
    assert "read-only" in caught.value.errors["/size"][0]
    services.deployment_update(deployment=database, params={**PARAMS, "backup_retention_days": 14}, actor=dev)
    assert Deployment.objects.get(pk=database.pk).params["backup_retention_days"] == 14


def test_a_new_deployment_cannot_set_a_read_only_value(dev, locked_version, proto_env):
    with pytest.raises(ParamsInvalid) as caught:
        services.deployment_create(
            environment=proto_env,
            name="db2",
            bundle_version=locked_version,
            params={**PARAMS, "size": "large"},
            actor=dev,
        )
    assert list(caught.value.errors) == ["/size"]


def test_the_api_refuses_a_read_only_change_beside_the_field(client, dev, database):
    client.force_login(dev)
    response = client.post(
        f"/api/v1/deployments/{database.pk}/apply/",
        data=json.dumps({"params": {**PARAMS, "storage_gb": 500}}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "read-only" in json.dumps(response.json()["errors"])
    assert Deployment.objects.get(pk=database.pk).params["storage_gb"] == 20


def test_the_edit_form_refuses_a_tampered_read_only_value_beside_the_field(dev_client, database):
    url = reverse("deployments:edit", args=[database.pk])
    page = dev_client.get(url).content.decode()
    assert "Read-only in this form." in page
    data = {"param/size": "large", "param/storage_gb": "20", "param/backup_retention_days": "7"}
    data["expected_version"] = str(database.version)
    page = dev_client.post(url, data).content.decode()
    errors = page[page.index('id="f-size-errors"') :][:400]
    assert "Size is read-only" in errors
    assert Deployment.objects.get(pk=database.pk).params["size"] == "small"


def test_a_bulk_change_of_a_read_only_value_is_invalid_in_the_dry_run(ops, database):
    change = bulk.bulk_change_create(
        title="bigger", query="bundle:postgres", patch=[{"op": "set", "path": "/storage_gb", "value": 50}], actor=ops
    )
    bulk.bulk_dry_run_start(bulk=change, actor=ops, plan=False)
    change = drive_until_settled(change)
    assert change.status == BulkChange.Status.TESTED
    target = change.targets.get()
    assert target.verdict == "invalid" and "read-only" in target.errors["/storage_gb"][0]
