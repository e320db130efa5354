"""The sandbox console: people change the fake cloud by hand, behind Slipway's back, through the same services."""

import pytest
from django.urls import reverse

from portal.sandbox import services
from portal.sandbox.models import Event, Resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def database(db):
    return services.resource_create(
        kind="database", name="orders-db", attributes={"size": "small", "storage_gb": 20}, tags={}, actor="api: tests"
    ).resource


@pytest.fixture
def bucket(db):
    return services.resource_create(kind="bucket", name="assets", attributes={}, tags={}, actor="api: tests").resource


def edit(client, resource, **changes):
    resource.refresh_from_db()
    data = {"version": resource.version}
    for field in resource.spec.fields:
        if field.replace or field.write_only:
            continue
        value = changes.get(field.name, resource.attributes.get(field.name))
        if isinstance(value, bool):
            if value:
                data[field.name] = "on"
        elif value is not None:
            data[field.name] = str(value)
    return client.post(reverse("sandbox:resource-edit", args=[resource.pk]), data)


def test_anonymous_visitors_are_sent_to_sign_in(client, database):
    for url in (reverse("sandbox:console"), database.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert edit(client, database, storage_gb=50).status_code == 302
    database.refresh_from_db()
    assert database.attributes["storage_gb"] == 20


def test_the_console_lists_resources_by_type_and_name_and_says_it_is_the_sandbox(dev_client, database, bucket):
    page = dev_client.get(reverse("sandbox:console")).content.decode()
    assert "Sandbox cloud" in page and "not part of Slipway" in page
    assert "orders-db" in page and "assets" in page
    assert "storage_gb=20 GiB" in page
    buckets = dev_client.get(reverse("sandbox:console"), {"kind": "bucket"}).content.decode()
    assert "assets" in buckets and "orders-db" not in buckets
    named = dev_client.get(reverse("sandbox:console"), {"q": "orders"}).content.decode()
    assert "orders-db" in named and ">assets<" not in named
    assert "No resource matches" in dev_client.get(reverse("sandbox:console"), {"q": "nothing"}).content.decode()


def test_a_person_changes_an_attribute_by_hand_and_the_cloud_records_who(dev_client, database):
    page = dev_client.get(database.get_absolute_url()).content.decode()
    assert 'name="storage_gb"' in page
    assert 'name="database_name"' not in page  # cannot change in place: not offered
    assert "(fixed)" in page and "set (write-only)" in page

    response = edit(dev_client, database, storage_gb=50, high_availability=True)
    assert response.status_code == 302
    database.refresh_from_db()
    assert database.attributes["storage_gb"] == 50 and database.attributes["high_availability"] is True
    assert database.version == 2
    event = Event.objects.filter(resource_id=database.pk, action="update").get()
    assert event.actor == "console: dev"
    assert event.changes == {"storage_gb": [20, 50], "high_availability": [False, True]}
    page = dev_client.get(database.get_absolute_url()).content.decode()
    assert "Slipway does not know about this" in page and "console: dev" in page


def test_the_console_refuses_what_the_cloud_refuses_and_says_why(dev_client, database, settings):
    response = edit(dev_client, database, storage_gb=5000)
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 4096" in response.content.decode()
    # Someone else changed it since the page was drawn.
    services.resource_update(resource_id=database.pk, attributes={"size": "medium"}, actor="api: tests")
    stale = dev_client.post(
        reverse("sandbox:resource-edit", args=[database.pk]),
        {"version": 1, "size": "large", "storage_gb": "20", "engine_version": "16", "backup_retention_days": "7"},
    )
    assert stale.status_code == 400 and "changed by someone else" in stale.content.decode()
    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 10
    services.resource_update(resource_id=database.pk, attributes={"storage_gb": 30}, actor="api: tests")
    busy = edit(dev_client, database, storage_gb=40)
    assert busy.status_code == 400 and "is modifying" in busy.content.decode()
    database.refresh_from_db()
    assert (database.attributes["size"], database.attributes["storage_gb"]) == ("medium", 30)


def test_deleting_by_hand_needs_the_name_typed(dev_client, database):
    url = reverse("sandbox:resource-delete", args=[database.pk])
    refused = dev_client.post(url, {"confirm": "orders"})
    assert refused.status_code == 400 and "Type orders-db to confirm" in refused.content.decode()
    assert Resource.objects.filter(pk=database.pk).exists()
    assert dev_client.post(url, {"confirm": "orders-db"}).status_code == 302
    assert not Resource.objects.filter(pk=database.pk).exists()
    assert Event.objects.filter(resource_id=database.pk, action="delete", actor="console: dev").exists()
    assert dev_client.get(reverse("sandbox:resource", args=[database.pk])).status_code == 404


def test_reviewers_read_the_sandbox_and_change_nothing(client, auditor, database):
    client.force_login(auditor)
    page = client.get(database.get_absolute_url())
    assert page.status_code == 200 and "Reviewers read the sandbox" in page.content.decode()
    assert edit(client, database, storage_gb=50).status_code == 403
    assert (
        client.post(reverse("sandbox:resource-delete", args=[database.pk]), {"confirm": "orders-db"}).status_code == 403
    )
    database.refresh_from_db()
    assert database.attributes["storage_gb"] == 20
