"""Lint of a bundle's connections and artifacts: one test per rule, each asserting its message."""

import io
import shutil

import pytest
import yaml
from django.core.management import CommandError, call_command

from bundles.loader import read_bundle
from bundles.ports import PayloadError, artifact_payload, constraint_errors
from bundles.resource_types import shipped
from tests.conftest import FIXTURE_BUNDLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def webapp(tmp_path):
    path = tmp_path / "webapp"
    shutil.copytree(FIXTURE_BUNDLES / "webapp", path)
    return path


@pytest.fixture
def datastore(tmp_path):
    path = tmp_path / "datastore"
    shutil.copytree(FIXTURE_BUNDLES / "datastore", path)
    return path


def edit(path, change):
    data = yaml.safe_load((path / "bundle.yaml").read_text())
    change(data)
    (path / "bundle.yaml").write_text(yaml.safe_dump(data))


def edit_module(path, old, new):
    main = path / "src" / "main.tf"
    assert old in main.read_text()
    main.write_text(main.read_text().replace(old, new))


def lint(path) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("lint_bundle", str(path), stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_the_fixtures_and_the_catalog_pass():
    for name in ("webapp", "datastore"):
        call_command("lint_bundle", str(FIXTURE_BUNDLES / name), stdout=io.StringIO())


def test_a_published_version_stores_defaults_and_the_type_version_it_was_linted_against():
    manifest = read_bundle(FIXTURE_BUNDLES / "webapp")
    database, assets = manifest.connections
    assert database["required"] is True and database["env_default"] is False
    assert assets["required"] is False
    assert database["type_version"] == shipped()["postgresql"].version
    assert manifest.artifacts[0]["title"] == "HTTP endpoint"


# --- connections ----------------------------------------------------------------------------------------


def test_a_connection_of_an_unknown_type_is_refused(webapp):
    edit(webapp, lambda d: d["connections"][0].update(type="mysql"))
    assert "bundle.yaml /connections/0/type: no resource type 'mysql'; the types are bucket, http-endpoint" in lint(
        webapp
    )


def test_a_connection_needs_a_module_variable_of_its_name(webapp):
    edit(webapp, lambda d: d["connections"].append({"name": "cache", "type": "queue"}))
    assert (
        "bundle.yaml /connections/2: no variable 'cache' in src/*.tf; each connection is the module variable "
        "of that name" in lint(webapp)
    )


def test_the_variable_must_be_an_object_of_specs_and_data(webapp):
    edit_module(webapp, "type = object({\n    specs = object({ url = string })\n  })", "type = string")
    assert (
        "variable 'assets' (a bucket connection) must be an object({specs = object({...}), data = object({...})})"
        in (lint(webapp))
    )


def test_the_variable_may_not_declare_a_field_the_type_does_not_have(webapp):
    edit_module(webapp, "object({ url = string })", "object({ url = string, region = string })")
    assert "variable 'assets' (a bucket connection) declares specs.region, which the type does not have" in lint(webapp)


def test_the_variable_fields_must_have_the_types_kinds(webapp):
    edit_module(webapp, "port = number", "port = string")
    assert (
        "variable 'database' (a postgresql connection): specs.port is number in the type but string in the variable"
        in (lint(webapp))
    )


def test_a_field_a_producer_may_leave_out_must_be_optional(webapp):
    edit_module(webapp, "version = string })", "version = string, instance_class = string })")
    output = lint(webapp)
    assert "requires specs.instance_class, which a producer may leave out; declare it optional(...)" in output
    edit_module(webapp, "instance_class = string", "instance_class = optional(string)")
    call_command("lint_bundle", str(webapp), stdout=io.StringIO())


def test_an_optional_connection_needs_a_null_default(webapp):
    edit_module(webapp, "  default = null\n", "")
    assert "variable 'assets' (a bucket connection) is optional, so it needs default = null" in lint(webapp)


def test_a_connection_carrying_secrets_must_be_a_sensitive_variable(webapp):
    edit_module(webapp, '  sensitive = true\n}\n\nvariable "assets"', '}\n\nvariable "assets"')
    assert (
        "variable 'database' (a postgresql connection) carries sensitive data (password), so it must be declared "
        "sensitive = true" in lint(webapp)
    )


def test_a_connection_and_a_param_cannot_share_a_name(webapp):
    edit(webapp, lambda d: d["params"]["properties"].update(database={"type": "string"}))
    assert (
        "bundle.yaml /connections/0/name: 'database' is also a param; a connection and a param cannot share a name"
        in (lint(webapp))
    )


def test_connection_names_are_unique_and_not_slipway(webapp):
    edit(webapp, lambda d: d["connections"].extend([{"name": "database", "type": "postgresql"}]))
    assert "bundle.yaml /connections/2/name: 'database' is declared twice" in lint(webapp)
    edit(webapp, lambda d: d["connections"].__setitem__(2, {"name": "slipway", "type": "network"}))
    assert "bundle.yaml /connections/2/name: 'slipway' is the context variable Slipway passes" in lint(webapp)


def test_constraints_test_known_specs_fields_with_valid_schemas(webapp):
    edit(
        webapp,
        lambda d: d["connections"][0].update(
            constraints={"data.password": {"minLength": 20}, "specs.region": {"const": "eu"}, "specs.port": {"type": 5}}
        ),
    )
    output = lint(webapp)
    assert "/connections/0/constraints/data.password: constraints test the producer's specs only" in output
    assert "/connections/0/constraints/specs.region: the postgresql type has no specs field 'region'" in output
    assert "/connections/0/constraints/specs.port: " in output


def test_a_connection_with_an_unknown_key_is_refused_by_the_meta_schema(webapp):
    edit(webapp, lambda d: d["connections"][0].update(artifact="postgresql"))
    assert "bundle.yaml /connections/0: Additional properties are not allowed ('artifact' was unexpected)" in lint(
        webapp
    )


# --- artifacts ------------------------------------------------------------------------------------------


def test_an_artifact_of_an_unknown_type_is_refused(datastore):
    edit(datastore, lambda d: d["artifacts"][0].update(type="mysql"))
    assert "bundle.yaml /artifacts/0/type: no resource type 'mysql'" in lint(datastore)


def test_every_artifact_field_maps_to_a_real_output(datastore):
    edit(datastore, lambda d: d["artifacts"][0]["specs"].update(host="hostname"))
    assert (
        "bundle.yaml /artifacts/0/specs/host: no output 'hostname' in src/*.tf; map each field to a module output"
        in lint(datastore)
    )


def test_an_artifact_field_must_be_a_field_of_the_type(datastore):
    edit(datastore, lambda d: d["artifacts"][0]["specs"].update(region="host"))
    assert "bundle.yaml /artifacts/0/specs/region: the postgresql type has no specs field 'region'" in lint(datastore)


def test_an_artifact_maps_every_field_the_type_requires(datastore):
    edit(datastore, lambda d: d["artifacts"][0]["data"].pop("username"))
    assert (
        "bundle.yaml /artifacts/0/data: the postgresql type requires data.username; map it to a module output"
        in lint(datastore)
    )


def test_a_sensitive_field_must_come_from_a_sensitive_output(datastore):
    edit(datastore, lambda d: d["artifacts"][0]["data"].update(password="username"))
    assert (
        "bundle.yaml /artifacts/0/data/password: data.password is sensitive in the postgresql type, so output "
        "'username' at src/main.tf:" in lint(datastore)
    )


def test_a_sensitive_output_never_goes_into_specs(datastore):
    edit(datastore, lambda d: d["artifacts"][0]["specs"].update(host="password"))
    assert (
        "bundle.yaml /artifacts/0/specs/host: output 'password' is sensitive, and specs are shown and searchable; "
        "map it under data" in lint(datastore)
    )


def test_a_sensitive_output_never_goes_into_a_field_shown_in_clear(datastore):
    """Review finding: a non-sensitive data field fed by a sensitive output would be listed in clear by the
    artifacts API to everyone who can see the deployment."""
    edit(datastore, lambda d: d["artifacts"][0]["data"].update(username="password"))
    assert (
        "bundle.yaml /artifacts/0/data/username: output 'password' is sensitive, but data.username is not sensitive "
        "in the postgresql type, so its value would be shown to everyone who can see the deployment; map it to a "
        "sensitive field" in lint(datastore)
    )


# --- payloads -------------------------------------------------------------------------------------------


def test_a_payload_is_computed_from_outputs_and_checked_against_its_type():
    manifest = read_bundle(FIXTURE_BUNDLES / "datastore")
    kind = shipped()["postgresql"]
    outputs = {
        "host": "h",
        "port": 5432,
        "database": "app",
        "engine_version": "16",
        "instance_class": "db.t4g.medium",
        "username": "app",
        "password": "pw-123456",
    }
    payload = artifact_payload(manifest.artifacts[0], outputs, specs_schema=kind.specs, data_schema=kind.data)
    assert payload == {
        "specs": {"host": "h", "port": 5432, "database": "app", "version": "16", "instance_class": "db.t4g.medium"},
        "data": {"username": "app", "password": "pw-123456"},
    }
    with pytest.raises(PayloadError, match="specs/port: "):
        artifact_payload(
            manifest.artifacts[0], {**outputs, "port": "five"}, specs_schema=kind.specs, data_schema=kind.data
        )
    with pytest.raises(PayloadError, match="the module has no output 'host' after the apply"):
        artifact_payload(
            manifest.artifacts[0],
            {k: v for k, v in outputs.items() if k != "host"},
            specs_schema=kind.specs,
            data_schema=kind.data,
        )


def test_constraints_are_explained_in_words():
    connection = {"constraints": {"specs.version": {"enum": ["15", "16"]}}}
    assert constraint_errors(connection, {"version": "16"}) == []
    assert constraint_errors(connection, {"version": "17"}) == ["version is '17': '17' is not one of ['15', '16']"]
