import hashlib
import io
import shutil
import tarfile

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from bundles.loader import BundleError, find_bundles, lint_inputs, read_bundle
from bundles.models import Bundle, BundleVersion, ResourceType
from bundles.schema import param_errors
from tests.conftest import FIXTURE_BUNDLES

pytestmark = pytest.mark.django_db
CATALOG = find_bundles(settings.SLIPWAY_CATALOG_DIR)
CATALOG_IDS = [str(p.relative_to(settings.SLIPWAY_CATALOG_DIR)) for p in CATALOG]


def sync(*paths):
    out, err = io.StringIO(), io.StringIO()
    call_command("sync_bundles", *map(str, paths), stdout=out, stderr=err)
    return out.getvalue()


def test_sync_bundles_loads_the_catalog_and_is_idempotent():
    first = sync()
    assert {b.name for b in Bundle.objects.all()} >= {"postgres", "object-storage", "web-service", "queue"}
    count = BundleVersion.objects.count()
    second = sync()
    assert "published" in first and "published" not in second
    assert second.count("unchanged") == count + ResourceType.objects.count()
    assert BundleVersion.objects.count() == count


def test_the_catalog_keeps_every_version_in_a_folder_of_its_own_and_the_newest_is_the_card():
    sync()
    postgres = Bundle.objects.get(name="postgres")
    assert {"1.0.0", "2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0"} <= set(
        postgres.versions.values_list("version", flat=True)
    )
    assert postgres.latest_version().version == "2.5.0"
    assert "x-observed-from" in postgres.versions.get(version="2.1.0").changelog
    assert "sandbox" in postgres.versions.get(version="2.0.0").changelog
    assert "cost model" in postgres.versions.get(version="2.4.0").changelog
    assert "alarms" in postgres.latest_version().changelog
    # Storage may only grow from 2.4.0 on (the field and the runbook always said so).
    assert postgres.latest_version().params_schema["properties"]["storage_gb"]["x-only-increase"] is True
    assert "x-only-increase" not in postgres.versions.get(version="2.2.0").params_schema["properties"]["storage_gb"]
    # Versions are found oldest first, whatever the folders' alphabetical order says.
    found = [p.name for p in find_bundles(settings.SLIPWAY_CATALOG_DIR / "postgres")]
    assert found == sorted(found, key=lambda v: tuple(map(int, v.split("."))))


def test_a_folder_of_version_folders_sorts_by_semantic_version(tmp_path):
    for version in ("1.10.0", "1.9.0", "1.9.0-rc.1"):
        shutil.copytree(FIXTURE_BUNDLES / "echo", tmp_path / "echo" / version)
    assert [p.name for p in find_bundles(tmp_path)] == ["1.9.0-rc.1", "1.9.0", "1.10.0"]


def test_it_stores_the_module_as_an_archive_with_its_sha256():
    sync(FIXTURE_BUNDLES / "echo")
    version = BundleVersion.objects.get(bundle__name="echo")
    archive = bytes(version.module_archive)
    assert hashlib.sha256(archive).hexdigest() == version.module_sha256
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.getnames() == ["main.tf"]
    assert set(version.module_variables) == {"message", "copies"}


def test_it_refuses_a_changed_module_under_an_already_loaded_version(tmp_path):
    bundle = tmp_path / "echo"
    shutil.copytree(FIXTURE_BUNDLES / "echo", bundle)
    sync(bundle)
    main_tf = bundle / "src" / "main.tf"
    main_tf.write_text(main_tf.read_text() + '\noutput "extra" {\n  value = 1\n}\n')
    with pytest.raises(CommandError):
        sync(bundle)
    with pytest.raises(BundleError) as excinfo:
        from bundles.services import bundle_version_publish

        bundle_version_publish(manifest=read_bundle(bundle))
    message = str(excinfo.value)
    assert "echo 1.0.0 is already published" in message
    assert "Bump 'version'" in message
    assert BundleVersion.objects.get(bundle__name="echo").module_variables  # the original is untouched


def test_a_new_version_number_publishes_the_change(tmp_path):
    bundle = tmp_path / "echo"
    shutil.copytree(FIXTURE_BUNDLES / "echo", bundle)
    sync(bundle)
    manifest = bundle / "bundle.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    sync(bundle)
    assert Bundle.objects.get(name="echo").latest_version().version == "1.1.0"
    assert BundleVersion.objects.filter(bundle__name="echo").count() == 2


def test_it_names_the_file_and_place_of_each_problem(tmp_path):
    bundle = tmp_path / "broken"
    shutil.copytree(FIXTURE_BUNDLES / "echo", bundle)
    (bundle / "bundle.yaml").write_text(
        "schema: slipway/bundle/v1\nname: Broken_Name\nversion: one\n"
        "params: {type: object, properties: {message: {type: string, minLength: -1}}}\n"
    )
    with pytest.raises(BundleError) as excinfo:
        read_bundle(bundle)
    problems = "\n".join(excinfo.value.problems)
    assert "bundle.yaml /name" in problems
    assert "bundle.yaml /version" in problems
    assert "bundle.yaml /params/properties/message/minLength" in problems


@pytest.mark.parametrize("path", CATALOG, ids=CATALOG_IDS)
def test_every_catalog_bundle_has_priced_presets_that_validate(path):
    manifest = read_bundle(path)
    names = [p["name"] for p in manifest.presets]
    assert any(n.startswith("Prototype (~$") for n in names), names
    assert any(n.startswith("Production (~$") for n in names), names
    for preset in manifest.presets:
        assert param_errors(manifest.params, preset["params"]) == {}, preset["name"]


def test_the_newest_version_of_every_catalog_bundle_says_its_dialect():
    newest = {}
    for path in find_bundles(settings.SLIPWAY_CATALOG_DIR):
        manifest = read_bundle(path)
        newest[manifest.name] = manifest  # found oldest first
    assert len(newest) >= 5
    for name, manifest in newest.items():
        assert manifest.params.get("$schema") == "https://json-schema.org/draft/2020-12/schema", name
        assert not any("$schema" in w for w in lint_inputs(manifest.params, manifest.ui, manifest.presets)[1]), name


@pytest.mark.parametrize("path", CATALOG, ids=CATALOG_IDS)
def test_every_catalog_param_is_a_module_variable_with_validation(path):
    manifest = read_bundle(path)
    assert "slipway" in manifest.module_variables
    for name, schema in manifest.params["properties"].items():
        assert name in manifest.module_variables, f"{path.name}: param {name} has no variable"
        assert schema.get("title") and schema.get("description"), f"{path.name}: {name} needs title and description"
        if any(k in schema for k in ("enum", "minimum", "maximum", "pattern")):
            assert manifest.module_variables[name].get("validation_count"), f"{path.name}: {name} lacks validation"
