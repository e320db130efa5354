"""lint_bundle: every check of the bundle format, each problem named by file and place."""

import io
import shutil

import pytest
import yaml
from django.core.management import CommandError, call_command

from tests.conftest import FIXTURE_BUNDLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(tmp_path):
    """A copy of the echo fixture bundle to break in one way per test."""
    path = tmp_path / "echo"
    shutil.copytree(FIXTURE_BUNDLES / "echo", path)
    return path


def edit(path, change):
    data = yaml.safe_load((path / "bundle.yaml").read_text())
    change(data)
    (path / "bundle.yaml").write_text(yaml.safe_dump(data))


def lint(path) -> str:
    """The command's error output; fails the test if the command succeeds."""
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("lint_bundle", str(path), stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_a_clean_bundle_passes(bundle):
    out = io.StringIO()
    call_command("lint_bundle", str(bundle), stdout=out)
    assert "echo 1.0.0 is valid" in out.getvalue()


def test_it_names_a_param_with_no_matching_variable(bundle):
    edit(bundle, lambda d: d["params"]["properties"].update(colour={"type": "string"}))
    assert "bundle.yaml /params/properties/colour: no variable 'colour' in src/*.tf" in lint(bundle)


def test_it_names_a_required_variable_without_default_that_is_not_covered(bundle):
    edit(bundle, lambda d: d["params"].update(required=[]))
    assert "src/main.tf:1: variable 'message' has no default, so it must be in bundle.yaml /params/required" in lint(
        bundle
    )


def test_a_connection_covers_a_variable_without_default(bundle):
    def change(d):
        d["params"]["required"] = []
        del d["params"]["properties"]["message"]
        d["connections"] = [{"name": "message", "type": "network"}]

    edit(bundle, change)
    main = bundle / "src" / "main.tf"
    main.write_text(main.read_text().replace('type        = string\n  description = "Any text."', "type = any"))
    call_command("lint_bundle", str(bundle), stdout=io.StringIO())


def test_it_names_a_preset_that_does_not_validate(bundle):
    edit(bundle, lambda d: d.update(presets=[{"name": "Many", "params": {"copies": 99}}]))
    assert "bundle.yaml /presets/0/params/copies (preset 'Many'): Must be at most 10." in lint(bundle)


def test_it_names_an_example_that_does_not_validate(bundle):
    edit(bundle, lambda d: d["params"]["properties"]["copies"].update(examples=[3, 11]))
    assert "bundle.yaml /params/properties/copies/examples/1: example does not validate" in lint(bundle)


def test_it_names_a_ui_key_for_an_unknown_field(bundle):
    edit(bundle, lambda d: d.update(ui={"ui:order": ["message", "colour"], "size": {"ui:widget": "radio"}}))
    output = lint(bundle)
    assert "bundle.yaml /ui/size: ui for an unknown field 'size'" in output
    assert "bundle.yaml /ui/ui:order/1: 'colour' is not a param here" in output


def test_it_names_a_non_semver_version(bundle):
    edit(bundle, lambda d: d.update(version="1.0"))
    assert "bundle.yaml /version: '1.0' is not a semantic version" in lint(bundle)


def test_it_names_an_invalid_json_schema(bundle):
    edit(bundle, lambda d: d["params"]["properties"]["copies"].update(minimum="zero"))
    assert "bundle.yaml /params/properties/copies/minimum: invalid JSON Schema" in lint(bundle)


def test_it_names_a_type_that_differs_from_the_variable(bundle):
    edit(bundle, lambda d: d["params"]["properties"]["copies"].update(type="string"))
    assert "bundle.yaml /params/properties/copies/type: the param is string but variable 'copies' at src/main.tf:6" in (
        lint(bundle)
    )


def test_it_checks_the_file_against_the_meta_schema(bundle):
    edit(bundle, lambda d: d.update(colour="blue", presets=[{"params": {}}]))
    output = lint(bundle)
    assert "bundle.yaml /: Additional properties are not allowed ('colour' was unexpected)" in output
    assert "bundle.yaml /presets/0: 'name' is a required property" in output


def test_it_refuses_a_published_version_changed_in_place(bundle):
    call_command("sync_bundles", str(bundle), stdout=io.StringIO())
    edit(bundle, lambda d: d.update(description="Changed after publishing."))
    assert "echo 1.0.0 is already published with different files" in lint(bundle)


def test_sync_bundles_runs_the_same_checks(bundle):
    edit(bundle, lambda d: d["params"]["properties"].update(colour={"type": "string"}))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("sync_bundles", str(bundle), stdout=io.StringIO(), stderr=err)
    assert "no variable 'colour'" in err.getvalue()


def test_x_observed_from_must_name_a_resource_of_the_module_and_a_single_value(bundle):
    def change(d):
        d["params"]["properties"]["message"]["x-observed-from"] = "sandbox_database.main.storage_gb"
        d["params"]["properties"]["tags"] = {
            "type": "array",
            "items": {"type": "string", "x-observed-from": "terraform_data.echo.input"},
        }
        d["params"]["properties"]["note"] = {"type": "string", "x-observed-from": "not an address"}

    edit(bundle, change)
    out = lint(bundle)
    assert (
        "/params/properties/message/x-observed-from: the module declares no resource sandbox_database.main "
        "(it declares: terraform_data.echo)" in out
    )
    assert "/params/properties/tags/items/x-observed-from: only a param with one value" in out
    assert "/params/properties/note/x-observed-from: must be '<type>.<name>.<attribute>'" in out


def test_the_catalog_maps_postgres_params_to_what_the_cloud_reports():
    from django.conf import settings

    from bundles.loader import read_bundle
    from bundles.schema.observed import observed_sources

    manifest = read_bundle(settings.SLIPWAY_CATALOG_DIR / "postgres" / "2.1.0")
    sources = {s.path: s.source for s in observed_sources(manifest.params)}
    assert sources[("storage_gb",)] == "sandbox_database.main.storage_gb"
    assert ("database_name",) not in sources  # a new name is a new server: nothing to accept
