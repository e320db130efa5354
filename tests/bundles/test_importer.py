"""import_module: a module's variables become a bundle that lints clean against that module."""

import io
import shutil
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from bundles.forms import build_fields, initial_values, parse_post
from bundles.loader import read_bundle
from bundles.schema import param_errors
from tests.bundles.formpost import browser_post
from tests.conftest import FIXTURE_BUNDLES

pytestmark = pytest.mark.django_db
MODULE = Path(__file__).resolve().parent.parent / "fixtures" / "modules" / "network"


@pytest.fixture
def imported(tmp_path):
    out = io.StringIO()
    call_command("import_module", str(MODULE), "--name", "network", "--output", str(tmp_path / "network"), stdout=out)
    return tmp_path / "network", out.getvalue()


def test_the_imported_bundle_passes_lint_bundle(imported):
    path, output = imported
    assert "lints clean" in output
    lint = io.StringIO()
    call_command("lint_bundle", str(path), stdout=lint)
    assert "network 0.1.0 is valid" in lint.getvalue()
    assert sorted(p.name for p in (path / "src").iterdir()) == ["main.tf", "variables.tf"]


def test_validation_blocks_become_schema(imported):
    params = yaml.safe_load((imported[0] / "bundle.yaml").read_text())["params"]
    props = params["properties"]
    assert props["tier"]["enum"] == ["basic", "standard", "premium"]
    assert {k: props["subnet_count"][k] for k in ("type", "minimum", "maximum", "default")} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 16,
        "default": 2,
    }
    assert props["mtu"]["exclusiveMinimum"] == 576 and props["mtu"]["exclusiveMaximum"] == 9001
    assert props["name"]["pattern"] == "^[a-z][a-z0-9-]{2,30}$"
    assert props["admin_token"]["x-sensitive"] is True
    assert params["required"] == ["name", "admin_token"]
    assert "slipway" not in props


def test_types_become_schema_with_their_defaults(imported):
    props = yaml.safe_load((imported[0] / "bundle.yaml").read_text())["params"]["properties"]
    assert props["tags"]["additionalProperties"] == {"type": "string"} and props["tags"]["default"] == {}
    assert props["zones"]["items"] == {"type": "string"} and props["zones"]["default"] == ["a", "b"]
    assert props["allowed_ports"]["uniqueItems"] is True
    assert props["peer"]["prefixItems"] == [{"type": "string"}, {"type": "number"}]
    rule = props["firewall"]["items"]
    assert rule["required"] == ["port"] and rule["properties"]["cidr"]["default"] == "0.0.0.0/0"
    dns = props["dns"]
    assert dns["required"] == ["zone"] and dns["default"] == {"zone": "internal"}
    assert dns["properties"]["ttl"]["default"] == 300 and dns["properties"]["resolvers"]["default"] == ["1.1.1.1"]


def test_the_imported_schema_draws_a_form_that_round_trips(imported):
    manifest = read_bundle(imported[0])
    values = {
        **initial_values(manifest.params),
        "name": "core-net",
        "admin_token": "t0k",
        "firewall": [{"port": 443, "cidr": "10.0.0.0/8"}],
        "peer": ["vpc-1", 2],
        "dns": {"zone": "internal", "dnssec": True},  # a checkbox shows its default and posts it
    }
    assert param_errors(manifest.params, values) == {}
    assert "edited as JSON" not in str([f.notice for f in build_fields(manifest.params, manifest.ui, values)])
    assert parse_post(manifest.params, browser_post(manifest.params, manifest.ui, values), stored=values) == values


def test_it_refuses_to_overwrite_a_bundle(imported):
    with pytest.raises(CommandError, match="already exists"):
        call_command("import_module", str(MODULE), "--name", "network", "--output", str(imported[0]))


def test_variables_named_as_connections_are_scaffolded_as_connections(tmp_path):
    out = io.StringIO()
    target = tmp_path / "shop"
    module = tmp_path / "module"
    shutil.copytree(FIXTURE_BUNDLES / "webapp" / "src", module)
    call_command(
        "import_module",
        str(module),
        "--name",
        "shop",
        "--output",
        str(target),
        "--connection",
        "database=postgresql",
        "--connection",
        "assets=bucket",
        stdout=out,
    )
    manifest = yaml.safe_load((target / "bundle.yaml").read_text())
    assert set(manifest["params"]["properties"]) == {"replicas"}
    assert manifest["connections"] == [
        {"name": "database", "type": "postgresql", "title": "Database"},
        {"name": "assets", "type": "bucket", "title": "Assets", "required": False},
    ]
    assert "lints clean" in out.getvalue()
    with pytest.raises(CommandError, match="no variable 'cache' in the module"):
        call_command(
            "import_module",
            str(module),
            "--name",
            "shop",
            "--output",
            str(tmp_path / "x"),
            "--connection",
            "cache=queue",
        )
    with pytest.raises(CommandError, match="--connection takes VARIABLE=TYPE"):
        call_command(
            "import_module", str(module), "--name", "shop", "--output", str(tmp_path / "y"), "--connection", "db"
        )


VALIDATIONS = Path(__file__).resolve().parent.parent / "fixtures" / "modules" / "validations"


def test_the_common_validation_idioms_become_schema_keywords(tmp_path):
    out = io.StringIO()
    call_command(
        "import_module", str(VALIDATIONS), "--name", "validations", "--output", str(tmp_path / "v"), stdout=out
    )
    assert (VALIDATIONS / "variables.tf").read_text().count("validation {") >= 15
    props = yaml.safe_load((tmp_path / "v" / "bundle.yaml").read_text())["params"]["properties"]

    def only(name, *keys):
        return {k: props[name].get(k) for k in keys}

    assert props["environment"]["enum"] == ["dev", "staging", "prod"]
    assert only("name", "pattern", "minLength", "maxLength") == {
        "pattern": "^[a-z][a-z0-9-]*$",
        "minLength": 3,
        "maxLength": 32,
    }
    assert only("region_code", "minLength", "maxLength") == {"minLength": 2, "maxLength": 2}  # length(x) == 2
    assert only("instance_count", "type", "minimum", "maximum") == {"type": "integer", "minimum": 1, "maximum": 10}
    assert props["timeout_s"]["exclusiveMinimum"] == 0  # var.x > 0 alone
    assert only("ratio", "minimum", "exclusiveMaximum") == {"minimum": 0, "exclusiveMaximum": 1}
    assert only("zones", "minItems", "maxItems") == {"minItems": 1, "maxItems": 3}
    assert props["zones"]["items"]["enum"] == ["a", "b", "c"]  # alltrue([for z in var.zones : contains(...)])
    assert props["tags"]["maxProperties"] == 20
    storage = props["storage"]["properties"]
    assert storage["class"]["enum"] == ["standard", "ssd", "archive"]  # contains([...], var.storage.class)
    assert {k: storage["gb"][k] for k in ("minimum", "maximum")} == {"minimum": 20, "maximum": 4096}
    assert props["kms_key"]["pattern"] == "^arn:" and props["kms_key"]["type"] == ["string", "null"]
    assert props["admins"]["maxItems"] == 4  # length(x) < 5
    # What has no JSON Schema equivalent is listed with its file and line, and only that.
    untranslated = [line for line in out.getvalue().splitlines() if "not translated" in line]
    assert [line.split(": ", 1)[1] for line in untranslated] == [
        "src/variables.tf:126 variable 'cidr': can(cidrhost(var.cidr, 0))"
    ]
    assert "lints clean" in out.getvalue()


def test_the_imported_schema_refuses_what_the_module_would_refuse(tmp_path):
    call_command(
        "import_module",
        str(VALIDATIONS),
        "--name",
        "validations",
        "--output",
        str(tmp_path / "v"),
        stdout=io.StringIO(),
    )
    params = yaml.safe_load((tmp_path / "v" / "bundle.yaml").read_text())["params"]
    good = {"environment": "dev", "name": "api", "region_code": "eu"}
    assert param_errors(params, good) == {}
    assert set(param_errors(params, {**good, "zones": ["a", "d"], "storage": {"class": "tape"}, "ratio": 1})) == {
        "/zones/1",
        "/storage/class",
        "/ratio",
    }
