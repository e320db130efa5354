"""The form engine: fields drawn from a schema, and a POST turned back into exactly the same JSON."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.http import QueryDict
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bundles.forms import all_fields, build_fields, initial_values, parse_post
from bundles.loader import find_bundles, read_bundle
from bundles.schema import param_errors
from tests.bundles.formpost import (
    browser_post,
    browser_safe,
    expected_after_round_trip,
    read_form,
    render_params,
    round_trip,
)

CATALOG = {
    str(p.relative_to(settings.SLIPWAY_CATALOG_DIR)): read_bundle(p) for p in find_bundles(settings.SLIPWAY_CATALOG_DIR)
}
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "schemas"
CORPUS = {p.stem: json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.json")) if not p.stem.endswith(".ui")}
CORPUS_UI = {p.name[: -len(".ui.json")]: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.ui.json")}
EVERYTHING = CORPUS["everything"]

# A hand-written value for each corpus schema that uses every construct it declares.
SAMPLES = {
    "everything": {
        "name": "ab",
        "notes": "two\nlines",
        "email": "ops@example.com",
        "homepage": "https://example.com/x",
        "start": "2026-01-31",
        "size": "xl",
        "tier": 2,
        "cpu": 0.5,
        "disk_gb": 40,
        "ha": True,
        "standby_zone": "b",
        "region": "eu",
        "label": "hello",
        "database_name": "app",
        "created_by": "portal",
        "storage": {"encrypted": False, "iops": 300, "backup": {"days": 3}},
        "tags": ["x", "y"],
        "zones": ["c", "a"],
        "ports": [80, 443],
        "rules": [{"port": 22, "cidr": "10.0.0.0/8", "allow": True}, {"port": 80, "allow": False}],
        "labels": {"team": "payments", "cost-centre": "42"},
        "auth": {"kind": "cert", "cert": "PEM", "rotate_days": 30},
        "replicas": 2,
        "replica_lag_s": 5,
    },
    "draft07": {
        "size": 2,
        "reason": "load",
        "primary": {"host": "db1", "port": 5432},
        "replica": {"host": "db2"},
        "tls": True,
        "ca": "PEM",
        "credentials": ["root", 0],
        "ratio": 0.5,
    },
    "variants-and-conditions": {
        "engine": "mysql",
        "mysql_mode": "ansi",
        "source": {"from": "snapshot", "snapshot_id": "snap-beef"},
        "maintenance": "sat",
        "backups": True,
        "backup_days": 9,
    },
    "scalars": {
        "count": 3,
        "share": 0.25,
        "level": 4,
        "motd": "hi",
        "flavour": "e",
        "mode": "off",
        "when": "2026-02-01",
        "optional_flag": True,
        "notes": "x",
    },
}


def widgets(fields) -> set[str]:
    return {f.widget for f in all_fields(fields)}


# --- the corpus: every construct renders and round-trips --------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_corpus_schema_renders_and_round_trips_its_sample(name):
    schema, ui = CORPUS[name], CORPUS_UI.get(name, {})
    params = SAMPLES[name]
    assert param_errors(schema, params) == {}, "the sample itself must be valid"
    html = render_params(schema, ui, params)
    assert "edited as JSON" not in html, "every construct in the corpus is drawn, not left as JSON"
    assert round_trip(schema, ui, params) == params


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_corpus_schema_round_trips_its_defaults(name):
    schema, ui = CORPUS[name], CORPUS_UI.get(name, {})
    start = initial_values(schema)
    assert round_trip(schema, ui, start) == expected_after_round_trip(schema, ui, start)


def test_the_corpus_covers_every_widget():
    seen = set()
    for name, schema in CORPUS.items():
        seen |= widgets(build_fields(schema, CORPUS_UI.get(name, {}), SAMPLES[name]))
    assert seen >= {
        "text",
        "textarea",
        "password",
        "number",
        "range",
        "select",
        "radio",
        "checkbox",
        "multiselect",
        "const",
        "object",
        "array",
        "map",
        "variant",
    }


def test_every_input_has_a_label_and_errors_are_described():
    html = render_params(EVERYTHING, {}, SAMPLES["everything"], {"/rules/1/port": ["Must be at least 1."]})
    _, inputs = read_form(html)
    ids = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
    for attrs in inputs:
        if attrs.get("type") == "hidden":
            continue
        assert attrs.get("id") in ids, f"input {attrs.get('name')} has no label"
    port = next(a for a in inputs if a.get("name") == "param/rules/1/port")
    assert "f-rules-1-port-errors" in port["aria-describedby"].split()
    assert 'id="f-rules-1-port-errors"' in html


def test_strings_carry_their_constraints_and_formats():
    fields = {f.pointer: f for f in all_fields(build_fields(EVERYTHING, {}, SAMPLES["everything"]))}
    assert fields["/name"].attrs == {"pattern": "^[a-z][a-z0-9-]*$", "maxlength": 30, "minlength": 2}
    assert fields["/email"].attrs["type"] == "email"
    assert fields["/homepage"].attrs["type"] == "url"
    assert fields["/start"].attrs["type"] == "date"
    assert fields["/notes"].widget == "textarea"  # a multi-line value must not be flattened
    assert fields["/password"].widget == "password" and fields["/password"].value == ""
    assert "<strong>dash</strong>" in fields["/name"].help


def test_enums_are_radios_up_to_four_options_and_a_select_beyond():
    fields = {f.pointer: f for f in all_fields(build_fields(EVERYTHING, {}, SAMPLES["everything"]))}
    assert fields["/size"].widget == "select"
    assert [c.label for c in fields["/size"].choices if c.selected] == ["Extra large"]
    assert fields["/tier"].widget == "radio"
    assert [c.label for c in fields["/tier"].choices] == ["(not set)", "Bronze", "Gold"]
    scalars = {f.pointer: f for f in all_fields(build_fields(CORPUS["scalars"], CORPUS_UI["scalars"], {}))}
    assert scalars["/flavour"].widget == "radio"  # ui:widget wins over the count
    assert [c.label for c in scalars["/mode"].choices][1:] == ["Switched on", "Switched off"]


def test_numbers_carry_bounds_steps_units_and_a_range_widget():
    fields = {f.pointer: f for f in all_fields(build_fields(EVERYTHING, {}, SAMPLES["everything"]))}
    cpu = fields["/cpu"]
    assert cpu.attrs["gt"] == 0 and cpu.attrs["max"] == 64 and cpu.attrs["step"] == 0.25 and cpu.unit == "vCPU"
    scalars = {f.pointer: f for f in all_fields(build_fields(CORPUS["scalars"], CORPUS_UI["scalars"], {"level": 3}))}
    assert scalars["/level"].widget == "range"
    assert next(f.pointer for f in build_fields(CORPUS["scalars"], CORPUS_UI["scalars"], {})) == "/level"


def test_nested_objects_are_titled_sections_and_ui_group_heads_them():
    fields = {f.pointer: f for f in all_fields(build_fields(EVERYTHING, {}, SAMPLES["everything"]))}
    assert fields["/storage"].widget == "object" and fields["/storage"].label == "Storage"
    assert fields["/storage/backup"].widget == "object" and fields["/storage/backup/days"].widget == "number"
    html = render_params(CORPUS["scalars"], CORPUS_UI["scalars"], {})
    assert '<h3 class="group">Secrets</h3>' in html
    assert "<legend>Storage" in render_params(EVERYTHING, {}, SAMPLES["everything"])


def test_arrays_have_rows_and_honour_min_and_max_items():
    fields = {f.pointer: f for f in all_fields(build_fields(EVERYTHING, {}, SAMPLES["everything"]))}
    rules = fields["/rules"]
    assert [r.pointer for r in rules.rows] == ["/rules/0", "/rules/1"]
    assert rules.rows[0].widget == "object" and rules.can_add and rules.can_remove
    tags = build_fields(EVERYTHING, {}, {**SAMPLES["everything"], "tags": ["a", "b", "c", "d", "e"]})
    assert not next(f for f in tags if f.pointer == "/tags").can_add  # maxItems 5
    assert fields["/zones"].widget == "multiselect"
    assert [c.value for c in fields["/zones"].choices if c.selected] == ["c", "a"]  # posted in the value's order


def test_a_variant_selector_draws_the_chosen_branch_only():
    fields = {}
    for f in all_fields(build_fields(EVERYTHING, {}, SAMPLES["everything"])):
        fields.setdefault(f.pointer, f)
    auth = fields["/auth"]
    assert auth.widget == "variant" and auth.refresh
    assert [c.label for c in auth.choices] == ["(not set)", "Password", "Certificate"]
    assert auth.children[0].widget == "object"
    assert [c.label for c in auth.choices if c.selected] == ["Certificate"]
    assert "/auth/cert" in fields and "/auth/user" not in fields
    switched = QueryDict(mutable=True)
    switched.update(browser_post(EVERYTHING, {}, SAMPLES["everything"]))
    switched["_variant/auth"] = "0"
    switched["param/auth/user"] = "admin"
    assert parse_post(EVERYTHING, switched)["auth"] == {"kind": "password", "user": "admin"}


def test_conditional_fields_appear_when_their_condition_holds():
    def pointers(values):
        return {f.pointer for f in all_fields(build_fields(EVERYTHING, {}, values))}

    assert "/standby_zone" not in pointers({"ha": False})
    assert "/standby_zone" in pointers({"ha": True})
    assert "/replica_lag_s" in pointers({"replicas": 1})
    ha = next(f for f in build_fields(EVERYTHING, {}, {}) if f.pointer == "/ha")
    assert ha.refresh, "the controlling field re-renders the form when it changes"
    draft7 = {f.pointer: f for f in all_fields(build_fields(CORPUS["draft07"], {}, {"tls": True, "size": 1}))}
    assert "/ca" in draft7 and draft7["/ca"].required and draft7["/reason"].required
    mysql = {f.pointer for f in all_fields(build_fields(CORPUS["variants-and-conditions"], {}, {"engine": "mysql"}))}
    assert "/mysql_mode" in mysql and "/pg_extensions" not in mysql


def test_readonly_and_immutable_fields_are_locked_and_keep_the_stored_value():
    values = SAMPLES["everything"]
    fields = {f.pointer: f for f in build_fields(EVERYTHING, {}, values)}
    assert fields["/created_by"].locked and not fields["/database_name"].locked
    locked = {f.pointer: f for f in build_fields(EVERYTHING, {}, values, lock_immutable=True)}
    assert locked["/database_name"].locked
    tampered = browser_post(EVERYTHING, {}, values, lock_immutable=True)
    tampered["param/database_name"] = "changed"
    assert parse_post(EVERYTHING, tampered, stored=values, lock_immutable=True)["database_name"] == "app"
    assert parse_post(EVERYTHING, tampered, stored=values)["database_name"] == "changed"


def test_a_blank_sensitive_field_keeps_the_stored_value_and_is_never_rendered():
    schema = {"type": "object", "properties": {"token": {"type": "string", "x-sensitive": True}}}
    (field,) = build_fields(schema, {}, {"token": "s3cret"}, stored_secrets={"token"})
    assert field.widget == "password" and field.value == "" and field.has_stored_secret
    assert "s3cret" not in render_params(schema, {}, {"token": "s3cret"})
    assert parse_post(schema, QueryDict("param/token="), stored={"token": "s3cret"}) == {"token": "s3cret"}
    nested = {
        "type": "object",
        "properties": {"db": {"type": "object", "properties": {"pw": {"x-sensitive": True, "type": "string"}}}},
    }
    assert parse_post(nested, QueryDict("param/db/pw=&_present/db=1"), stored={"db": {"pw": "x"}}) == {
        "db": {"pw": "x"}
    }


def test_integers_stay_integers_and_numbers_keep_their_fraction():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "cpu": {"type": "number"}}}
    params = parse_post(schema, QueryDict("param/n=3&param/cpu=0.25"))
    assert params == {"n": 3, "cpu": 0.25}
    assert type(params["n"]) is int


def test_an_empty_optional_field_is_left_out():
    schema = {"type": "object", "properties": {"label": {"type": "string"}, "n": {"type": "integer"}}}
    assert parse_post(schema, QueryDict("param/label=&param/n=")) == {}


def test_a_value_that_does_not_convert_is_kept_for_validation_to_report():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert parse_post(schema, QueryDict("param/n=lots")) == {"n": "lots"}


def test_help_markdown_is_sanitised():
    schema = {"type": "object", "properties": {"x": {"type": "string", "description": "<script>alert(1)</script>ok"}}}
    (field,) = build_fields(schema, {}, None)
    assert "<script>" not in field.help


def test_an_unsupported_construct_is_edited_as_json_with_a_notice():
    schema = {"type": "object", "properties": {"port": {"type": ["string", "integer"]}}}
    (field,) = build_fields(schema, {}, {"port": 80})
    assert field.widget == "json" and field.notice
    assert "edited as JSON" in render_params(schema, {}, {"port": 80})
    assert parse_post(schema, browser_post(schema, {}, {"port": 80})) == {"port": 80}


def test_undeclared_keys_of_an_open_object_are_kept_as_json_visibly():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    html = render_params(schema, {}, {"a": "x", "legacy": {"k": 1}})
    assert "not declared by the schema" in html
    assert round_trip(schema, {}, {"a": "x", "legacy": {"k": 1}}) == {"a": "x", "legacy": {"k": 1}}


# --- errors land on their field ---------------------------------------------------------------------------


def test_errors_are_placed_on_nested_fields_and_array_items():
    bad = json.loads(json.dumps(SAMPLES["everything"]))
    bad["storage"]["backup"]["days"] = 99
    bad["rules"][1]["port"] = 0
    bad["tags"][0] = "x" * 30
    bad["auth"] = {"kind": "cert", "cert": ""}
    errors = param_errors(EVERYTHING, bad)
    assert errors == {
        "/storage/backup/days": ["Must be at most 35."],
        "/rules/1/port": ["Must be at least 1."],
        "/tags/0": ["Must be at most 20 characters long."],
        "/auth/cert": ["Must be at least 1 characters long."],
    }
    fields = {f.pointer: f for f in all_fields(build_fields(EVERYTHING, {}, bad, errors))}
    for pointer, messages in errors.items():
        assert fields[pointer].errors == messages


def test_a_missing_conditional_field_is_reported_on_that_field():
    params = {**SAMPLES["everything"]}
    del params["standby_zone"]
    errors = param_errors(EVERYTHING, params)
    assert errors == {"/standby_zone": ["This field is required."]}
    assert param_errors(CORPUS["draft07"], {"size": 1}) == {"/reason": ["Required when 'size' is set."]}


def test_the_catalog_presets_round_trip_through_the_form():
    for manifest in CATALOG.values():
        for preset in manifest.presets:
            values = initial_values(manifest.params, preset)
            assert round_trip(manifest.params, manifest.ui, values) == preset["params"], preset["name"]


# --- property: generated params come back unchanged -------------------------------------------------------

# Catalog versions whose params and ui are the same draw the same form: each distinct one is tested once
# (the newest version that has it), which keeps this property test's time flat as versions accumulate.
DISTINCT_CATALOG = {json.dumps([m.params, m.ui], sort_keys=True): (n, m) for n, m in sorted(CATALOG.items())}
SCHEMAS = [(f"catalog:{n}", m.params, m.ui) for n, m in sorted(DISTINCT_CATALOG.values())] + [
    (f"corpus:{n}", s, CORPUS_UI.get(n, {})) for n, s in sorted(CORPUS.items())
]


@pytest.mark.parametrize("label,schema,ui", SCHEMAS, ids=[s[0] for s in SCHEMAS])
@hsettings(max_examples=30, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_round_trip_holds_for_generated_params(label, schema, ui, data):
    from hypothesis_jsonschema import from_schema

    params = data.draw(from_schema(schema))
    assume(browser_safe(params))
    assert round_trip(schema, ui, params) == expected_after_round_trip(schema, ui, params)
