"""Resource types: shipped as files, linted, published by sync_bundles, immutable, shown in the admin."""

import io
import shutil

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from bundles.models import ResourceType
from bundles.resource_types import ResourceTypeError, read_resource_type, shipped

pytestmark = pytest.mark.django_db
SHIPPED = settings.SLIPWAY_RESOURCE_TYPES_DIR


def sync(*paths):
    out, err = io.StringIO(), io.StringIO()
    call_command("sync_bundles", *map(str, paths), stdout=out, stderr=err)
    return out.getvalue()


def copy_type(tmp_path, name="postgresql", change=None):
    path = tmp_path / f"{name}.yaml"
    shutil.copy(SHIPPED / f"{name}.yaml", path)
    if change:
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_types_are_the_five_the_catalog_connects_by():
    types = shipped()
    assert set(types) >= {"network", "postgresql", "bucket", "queue", "http-endpoint"}
    for manifest in types.values():
        assert manifest.title and manifest.description and manifest.icon.lstrip().startswith("<svg")
        assert manifest.specs["type"] == "object" and manifest.data["type"] == "object"
    assert types["postgresql"].data["properties"]["password"]["x-sensitive"] is True


def test_sync_bundles_publishes_the_types_once():
    first = sync()
    assert "resource type postgresql@1.0.0 published" in first
    assert set(ResourceType.objects.values_list("name", flat=True)) >= set(shipped())
    count = ResourceType.objects.count()
    second = sync()
    assert "resource type postgresql@1.0.0 unchanged" in second
    assert ResourceType.objects.count() == count


def test_a_published_type_never_changes_in_place(tmp_path):
    sync()
    changed = copy_type(tmp_path, change=lambda d: d["specs"]["properties"].update(region={"type": "string"}))
    with pytest.raises(CommandError):
        call_command("sync_bundles", str(changed), stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert "postgresql 1.0.0 is already published and a published version never changes" in err.getvalue()
    bumped = copy_type(
        tmp_path,
        change=lambda d: (d["specs"]["properties"].update(region={"type": "string"}), d.update(version="1.1.0")),
    )
    assert "resource type postgresql@1.1.0 published" in sync(bumped)
    assert ResourceType.latest("postgresql").version == "1.1.0"
    assert ResourceType.objects.filter(name="postgresql").count() == 2


def test_a_sensitive_field_in_specs_is_refused(tmp_path):
    path = copy_type(tmp_path, change=lambda d: d["specs"]["properties"]["host"].update({"x-sensitive": True}))
    with pytest.raises(ResourceTypeError) as caught:
        read_resource_type(path)
    assert (
        "/specs/properties/host: specs are shown and searchable, so they cannot be x-sensitive; move this field to data"
        in caught.value.problems
    )


def test_a_type_must_be_named_like_its_file_and_have_both_schemas(tmp_path):
    path = copy_type(tmp_path, change=lambda d: (d.update(name="mysql"), d.pop("data")))
    with pytest.raises(ResourceTypeError) as caught:
        read_resource_type(path)
    assert "/name: 'mysql' must be the file's name (postgresql.yaml)" in caught.value.problems
    assert "/: 'data' is a required property" in caught.value.problems


def test_a_payload_schema_that_is_not_an_object_schema_is_refused(tmp_path):
    path = copy_type(tmp_path, change=lambda d: d["specs"].update(type="array"))
    with pytest.raises(ResourceTypeError) as caught:
        read_resource_type(path)
    assert '/specs/type: the params schema must have "type": "object".' in caught.value.problems


def test_the_admin_lists_and_shows_a_type_read_only(admin_client):
    sync()
    client = admin_client
    listing = client.get("/admin/bundles/resourcetype/")
    assert listing.status_code == 200 and "postgresql" in listing.content.decode()
    page = client.get(f"/admin/bundles/resourcetype/{ResourceType.latest('postgresql').pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and "x-sensitive" in html and "data:image/svg+xml;base64," in html
    assert 'name="_save"' not in html
    assert client.post(f"/admin/bundles/resourcetype/{ResourceType.latest('postgresql').pk}/change/").status_code == 403
