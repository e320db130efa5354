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


def lint_ok(path) -> str:
    """The command's output (warnings included) for a bundle that passes."""
    out = io.StringIO()
    call_command("lint_bundle", str(path), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_draft07_schema_without_dollar_schema_is_read_as_draft07_and_lint_says_so_in_one_line(bundle):
    def change(d):
        d["params"]["properties"]["copies"]["minimum"] = 0
        d["params"]["dependencies"] = {"copies": {"properties": {"copies": {"minimum": 2}}}}
        d["presets"] = [{"name": "One copy", "params": {"copies": 1}}]

    edit(bundle, change)
    output = lint(bundle)
    # dependencies is honoured, so the preset that breaks the dependent minimum is refused...
    assert "/presets/0/params/copies (preset 'One copy'): Must be at least 2." in output
    # ...and the reading is named once, with the fix.
    notes = [line for line in output.splitlines() if "read as draft-07" in line]
    assert len(notes) == 1 and '"$schema": "http://json-schema.org/draft-07/schema#"' in notes[0]
    assert "warning:" in notes[0]


def test_a_tuple_items_schema_without_dollar_schema_validates_as_draft07(bundle):
    edit(
        bundle,
        lambda d: d["params"]["properties"].update(
            pair={"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": False}
        ),
    )
    (bundle / "src" / "main.tf").write_text(
        (bundle / "src" / "main.tf").read_text() + '\nvariable "pair" {\n  type    = tuple([string, number])\n'
        "  default = null\n}\n"
    )
    output = lint_ok(bundle)
    assert "is not of type" not in output and "read as draft-07" in output


def test_mixed_dialects_are_an_error_naming_the_keywords(bundle):
    def change(d):
        d["params"]["dependencies"] = {"copies": ["message"]}
        d["params"]["dependentRequired"] = {"copies": ["message"]}

    edit(bundle, change)
    output = lint(bundle)
    assert "mixes dialects" in output and "/dependencies" in output and "/dependentRequired" in output


def test_a_declared_dialect_that_lacks_a_keyword_used_is_an_error(bundle):
    def change(d):
        d["params"]["$schema"] = "http://json-schema.org/draft-07/schema#"
        d["params"]["dependentRequired"] = {"copies": ["message"]}

    edit(bundle, change)
    assert "declares draft-07 but uses keywords that dialect does not have" in lint(bundle)


def test_an_unknown_dollar_schema_is_refused_with_the_supported_ones(bundle):
    edit(bundle, lambda d: d["params"].update({"$schema": "http://example.com/my-dialect"}))
    output = lint(bundle)
    assert "is not a dialect Slipway reads" in output and "draft-07" in output


def test_draft04_boolean_exclusive_bounds_are_understood(bundle):
    def change(d):
        d["params"]["$schema"] = "http://json-schema.org/draft-04/schema#"
        d["params"]["properties"]["copies"].update(maximum=10, exclusiveMaximum=True)
        d["presets"] = [{"name": "Ten", "params": {"message": "x", "copies": 10}}]

    edit(bundle, change)
    assert "(preset 'Ten'): Must be less than 10." in lint(bundle)


def test_a_posix_class_in_a_pattern_is_warned_with_its_pointer(bundle):
    edit(bundle, lambda d: d["params"]["properties"]["message"].update(pattern="^[[:alnum:]]+$"))
    output = lint_ok(bundle)
    assert (
        "warning: bundle.yaml /params/properties/message/pattern: the pattern '^[[:alnum:]]+$' uses a POSIX" in output
    )


def test_rjsf_ui_hints_are_accepted_and_those_slipway_draws_its_own_way_are_warned_once(bundle):
    ui = {
        "ui:order": ["copies", "*"],
        "ui:classNames": "wide",
        "message": {
            "ui:widget": "textarea",
            "ui:help": "h",
            "ui:placeholder": "p",
            "ui:autofocus": True,
            "ui:emptyValue": "",
            "ui:field": "MyMarkdownField",
            "ui:options": {"rows": 5, "label": False},
        },
        "copies": {"ui:widget": "updown", "ui:readonly": False, "ui:title": "Copies", "ui:description": "d"},
    }
    edit(bundle, lambda d: d.update(ui=ui))
    output = lint_ok(bundle)
    warnings = [line for line in output.splitlines() if "warning:" in line]
    assert any(
        "/ui/message/ui:field: custom rjsf field 'MyMarkdownField' is drawn as a standard control" in w
        for w in warnings
    )
    assert any("/ui/ui:classNames" in w for w in warnings)
    assert any("/ui/message/ui:emptyValue" in w for w in warnings)
    assert any("/ui/message/ui:options/label" in w for w in warnings)
    assert len(warnings) == 4, warnings


def test_a_ui_hint_that_cannot_be_read_is_one_error_in_words(bundle):
    edit(bundle, lambda d: d.update(ui={"ui:order": "copies", "message": {"ui:enumNames": [1]}}))
    output = lint(bundle)
    assert "bundle.yaml /ui/ui:order: must be a list" in output
    assert "bundle.yaml /ui/message/ui:enumNames: must be a list of text" in output
    assert output.count("ui:order") == 1
