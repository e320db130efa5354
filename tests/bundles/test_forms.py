"""The form engine: fields drawn from a schema, and a POST turned back into exactly the same JSON."""

import pytest
from django.conf import settings
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from bundles.forms import build_fields, initial_values, parse_post
from bundles.loader import read_bundle

CATALOG = {p.parent.name: read_bundle(p.parent) for p in settings.SLIPWAY_CATALOG_DIR.glob("*/bundle.yaml")}


def browser_post(fields) -> QueryDict:
    """What a browser submits for these fields, left as rendered."""
    data = QueryDict(mutable=True)
    for f in fields:
        if f.widget == "checkbox":
            if f.checked:
                data[f.name] = "on"
        elif f.widget == "select":
            selected = [c.value for c in f.choices if c.selected]
            data[f.name] = selected[0] if selected else ""
        else:
            data[f.name] = f.value
    return data


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_each_preset_round_trips_through_the_form(name):
    manifest = CATALOG[name]
    for preset in manifest.presets:
        values = initial_values(manifest.params, preset)
        fields = build_fields(manifest.params, manifest.ui, values)
        assert parse_post(manifest.params, browser_post(fields)) == preset["params"]


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


def test_enum_labels_come_from_x_enum_titles_and_one_of():
    schema = {
        "type": "object",
        "properties": {
            "size": {"type": "string", "enum": ["s", "m"], "x-enum-titles": {"s": "Small (2 vCPU)", "m": "Medium"}},
            "tier": {"oneOf": [{"const": 1, "title": "Bronze"}, {"const": 2, "title": "Gold"}]},
        },
    }
    size, tier = build_fields(schema, {}, {"size": "m", "tier": 2})
    assert [(c.value, c.label, c.selected) for c in size.choices][1:] == [
        ("s", "Small (2 vCPU)", False),
        ("m", "Medium", True),
    ]
    assert [c.label for c in tier.choices if c.selected] == ["Gold"]
    assert parse_post(schema, QueryDict("param/size=s&param/tier=2")) == {"size": "s", "tier": 2}


def test_fields_follow_ui_order_and_carry_bounds_units_and_help():
    schema = {
        "type": "object",
        "required": ["gb"],
        "properties": {
            "a": {"type": "boolean"},
            "gb": {"type": "integer", "minimum": 20, "maximum": 100, "x-unit": "GiB", "description": "**Disk** size"},
        },
    }
    gb, a = build_fields(schema, {"ui:order": ["gb", "a"]}, None)
    assert (gb.pointer, a.pointer) == ("/gb", "/a")
    assert gb.required and gb.attrs["min"] == 20 and gb.attrs["max"] == 100 and gb.unit == "GiB"
    assert "<strong>Disk</strong>" in gb.help


def test_help_markdown_is_sanitised():
    schema = {"type": "object", "properties": {"x": {"type": "string", "description": "<script>alert(1)</script>ok"}}}
    (field,) = build_fields(schema, {}, None)
    assert "<script>" not in field.help


def test_a_blank_sensitive_field_keeps_the_stored_value_and_is_never_rendered():
    schema = {"type": "object", "properties": {"token": {"type": "string", "x-sensitive": True}}}
    (field,) = build_fields(schema, {}, {"token": "s3cret"}, stored_secrets={"token"})
    assert field.widget == "password" and field.value == "" and field.has_stored_secret
    assert parse_post(schema, QueryDict("param/token="), stored={"token": "s3cret"}) == {"token": "s3cret"}


def test_an_unsupported_construct_is_edited_as_json_with_a_notice():
    schema = {"type": "object", "properties": {"rules": {"type": "array", "items": {"type": "object"}}}}
    (field,) = build_fields(schema, {}, {"rules": [{"port": 80}]})
    assert field.widget == "json" and field.notice
    assert parse_post(schema, QueryDict("param/rules=" + field.value.replace("\n", ""))) == {"rules": [{"port": 80}]}


@hsettings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_round_trip_holds_for_generated_catalog_params(data):
    from hypothesis_jsonschema import from_schema

    name = data.draw(st.sampled_from(sorted(CATALOG)))
    manifest = CATALOG[name]
    params = data.draw(from_schema(manifest.params))
    fields = build_fields(manifest.params, manifest.ui, params)
    posted = parse_post(manifest.params, browser_post(fields))
    # Booleans are always posted (a checkbox is on or off), so an absent one comes back False.
    expected = {**{k: False for k, s in manifest.params["properties"].items() if s.get("type") == "boolean"}, **params}
    assert posted == expected
