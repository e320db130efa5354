"""Issue 11, item 5: lint refuses an ``x-sensitive`` the schema walk cannot follow to a value, since the
secret it marks would be stored, logged and served in clear. Everywhere the walk does follow is accepted."""

import io
import shutil

import pytest
import yaml
from django.core.management import CommandError, call_command

from bundles.loader import read_bundle
from bundles.schema import check_params_schema, param_errors
from tests.conftest import FIXTURE_BUNDLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def vault(tmp_path):
    path = tmp_path / "vault"
    shutil.copytree(FIXTURE_BUNDLES / "vault", path)
    return path


def edit(path, change):
    data = yaml.safe_load((path / "bundle.yaml").read_text())
    change(data["params"])
    (path / "bundle.yaml").write_text(yaml.safe_dump(data))


def lint(path) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("lint_bundle", str(path), stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_secrets_in_items_variants_maps_and_refs_pass(vault):
    assert read_bundle(vault).name == "vault"


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (lambda p: p["properties"]["label"].update({"not": {"x-sensitive": True}}), "/properties/label/not", "`not`"),
        (lambda p: p.update({"if": {"properties": {"label": {"x-sensitive": True}}}}), "/if/properties/label", "`if`"),
        (
            lambda p: p["properties"]["rules"].update({"contains": {"x-sensitive": True}}),
            "/properties/rules/contains",
            "`contains`",
        ),
        (
            lambda p: p["properties"]["env"].update({"propertyNames": {"x-sensitive": True}}),
            "/properties/env/propertyNames",
            "`propertyNames`",
        ),
        (
            lambda p: p["properties"]["env"].update({"unevaluatedProperties": {"x-sensitive": True}}),
            "/properties/env/unevaluatedProperties",
            "`unevaluatedProperties`",
        ),
        (lambda p: p.update({"x-sensitive": True}), "", "whole params"),
        (lambda p: p["properties"]["label"].update({"x-sensitive": "yes"}), "/properties/label", "true or false"),
        (
            lambda p: p["properties"]["label"].update({"x-sensitive": True, "default": "hunter22"}),
            "/properties/label",
            "cannot have a `default`",
        ),
    ],
)
def test_a_misplaced_x_sensitive_is_refused_naming_its_place(vault, change, where, words):
    edit(vault, change)
    message = lint(vault)
    assert f"/params{where}/x-sensitive" in message and words in message, message


def test_a_property_named_like_a_keyword_is_not_mistaken_for_one(vault):
    def change(params):
        params["properties"]["env"]["properties"] = {"not": {"type": "string", "x-sensitive": True}}

    edit(vault, change)
    assert read_bundle(vault).name == "vault"


def test_a_ref_that_comes_back_to_itself_is_refused_instead_of_crashing_every_deployment(vault):
    def change(params):
        params["$defs"]["loop"] = {"allOf": [{"$ref": "#/$defs/loop"}]}
        params["properties"]["label"] = {"$ref": "#/$defs/loop"}

    edit(vault, change)
    assert "refers back to itself" in lint(vault)


def test_a_recursive_schema_through_a_property_is_fine():
    tree = {"type": "object", "properties": {"child": {"$ref": "#/$defs/tree"}}}
    schema = {"type": "object", "$defs": {"tree": tree}, "properties": {"root": {"$ref": "#/$defs/tree"}}}
    assert check_params_schema(schema) == []
    assert param_errors(schema, {"root": {"child": {"child": {}}}}) == {}
