"""Exactness, the form engine's first rule (issue 12, item 8): values drawn and posted back as a browser sends
them come back exactly (type-exact: 1 stays 1, 1.0 stays 1.0), or with a visible error beside their field.

Each test is one class of value the engine used to change silently.
"""

import json

from bundles.forms import all_fields, build_fields, parse_post
from bundles.schema import param_errors, same
from tests.bundles.formpost import browser_post, read_form, render_params, round_trip


def exact(value) -> str:
    return json.dumps(value, sort_keys=True)


def drawn(schema, values, errors=None, ui=None):
    return {f.pointer: f for f in all_fields(build_fields(schema, ui or {}, values, errors))}


# --- untyped properties and items -----------------------------------------------------------------------------

UNTYPED = {
    "type": "object",
    "properties": {
        "obj": {"properties": {"a": {"type": "string"}}, "required": ["a"]},
        "list": {"items": {"type": "string"}},
    },
}


def test_an_untyped_schema_with_properties_draws_an_object_value_as_an_object():
    fields = drawn(UNTYPED, {"obj": {"a": "x"}, "list": ["y"]})
    assert fields["/obj"].widget == "object" and fields["/obj/a"].widget == "text"
    assert fields["/list"].widget == "array" and fields["/list/0"].widget == "text"
    assert exact(round_trip(UNTYPED, {}, {"obj": {"a": "x"}, "list": ["y"]})) == exact(
        {"obj": {"a": "x"}, "list": ["y"]}
    )


def test_an_untyped_schema_keeps_a_legal_value_that_is_not_an_object_or_a_list():
    # Without "type", properties and items constrain objects and lists only: 5 and "s" are valid values.
    for params in ({"obj": 5, "list": "s"}, {"obj": "text", "list": {"k": 1}}, {"obj": [1], "list": 2.5}):
        assert param_errors(UNTYPED, params) == {}
        fields = drawn(UNTYPED, params)
        assert fields["/obj"].widget == "json" and fields["/list"].widget == "json"
        assert exact(round_trip(UNTYPED, {}, params)) == exact(params)


# --- a stored value of the wrong type -------------------------------------------------------------------------


def test_a_stored_value_of_the_wrong_type_is_shown_as_json_kept_and_refused_beside_its_field():
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "flags": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "ns": {"type": "array", "items": {"type": "number"}},
            "n": {"type": "integer"},
        },
    }
    stored = {"s": {"a": 1}, "flags": {"foo": 1}, "ns": [[1, 2]], "n": "many"}
    errors = param_errors(schema, stored)
    assert set(errors) == {"/s", "/flags/foo", "/ns/0", "/n"}
    fields = drawn(schema, stored, errors)
    for where in errors:
        assert fields[where].errors == errors[where], where
    assert "{'a': 1}" not in render_params(schema, {}, stored, errors)  # never a Python repr
    assert exact(round_trip(schema, {}, stored)) == exact(stored)


# --- const ------------------------------------------------------------------------------------------------------

OPTIONAL_CONST = {"type": "object", "properties": {"c": {"const": -2.0, "title": "Offset"}, "d": {"type": "string"}}}


def test_an_optional_const_is_left_out_until_it_is_chosen():
    assert round_trip(OPTIONAL_CONST, {}, {}) == {}
    assert round_trip(OPTIONAL_CONST, {}, {"d": "x"}) == {"d": "x"}
    field = drawn(OPTIONAL_CONST, {})["/c"]
    assert field.widget in ("radio", "select") and [c.selected for c in field.choices] == [True, False]
    chosen = browser_post(OPTIONAL_CONST, {}, {})
    chosen["param/c"] = field.choices[1].value
    assert exact(parse_post(OPTIONAL_CONST, chosen)) == exact({"c": -2.0})


def test_a_const_keeps_the_stored_number_as_it_was_written():
    assert exact(round_trip(OPTIONAL_CONST, {}, {"c": -2})) == exact({"c": -2})
    assert exact(round_trip(OPTIONAL_CONST, {}, {"c": -2.0})) == exact({"c": -2.0})
    required = {**OPTIONAL_CONST, "required": ["c"]}
    assert exact(round_trip(required, {}, {"c": -2})) == exact({"c": -2})


def test_a_stored_value_that_breaks_a_const_is_shown_kept_and_refused_beside_its_field():
    for schema in (OPTIONAL_CONST, {**OPTIONAL_CONST, "required": ["c"]}):
        stored = {"c": 3}
        errors = param_errors(schema, stored)
        assert errors == {"/c": ["Must be -2.0."]}
        html = render_params(schema, {}, stored, errors)
        assert "Must be -2.0." in html
        assert drawn(schema, stored, errors)["/c"].errors == ["Must be -2.0."]
        assert exact(round_trip(schema, {}, stored)) == exact(stored)


# --- errors from a false subschema ----------------------------------------------------------------------------


def test_a_false_subschema_blames_the_field_it_forbids():
    schema = {
        "type": "object",
        "properties": {
            "legacy": False,
            "net": {"type": "object", "properties": {"old": False, "cidr": {"type": "string"}}},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, False]},
        },
    }
    errors = param_errors(schema, {"legacy": 1, "net": {"old": "x", "cidr": "10.0.0.0/8"}, "pair": ["a", "b"]})
    assert errors == {
        "/legacy": ["This field is not allowed."],
        "/net/old": ["This field is not allowed."],
        "/pair/1": ["This item is not allowed."],
    }


def test_a_false_subschema_through_a_ref_blames_the_field():
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"net": {"type": "object", "properties": {"old": False}}},
        "type": "object",
        "properties": {"net": {"$ref": "#/definitions/net"}},
    }
    assert param_errors(schema, {"net": {"old": 1}}) == {"/net/old": ["This field is not allowed."]}


# --- unknown fields ---------------------------------------------------------------------------------------------


def test_unknown_field_blames_only_the_key_no_pattern_declares():
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "patternProperties": {"^tag_": {"type": "string"}},
        "additionalProperties": False,
    }
    assert param_errors(schema, {"a": "1", "tag_x": "2", "q": "3"}) == {
        "/q": ["Unknown field 'q': this bundle does not declare it."]
    }


def test_unknown_field_blames_only_the_key_no_allof_or_ref_declares():
    through_all_of = {
        "type": "object",
        "allOf": [{"properties": {"a": {"type": "string"}}}],
        "properties": {"b": {"type": "string"}},
        "unevaluatedProperties": False,
    }
    through_ref = {
        "$defs": {"base": {"properties": {"a": {"type": "string"}}}},
        "type": "object",
        "$ref": "#/$defs/base",
        "properties": {"b": {"type": "string"}},
        "unevaluatedProperties": False,
    }
    for schema in (through_all_of, through_ref):
        assert param_errors(schema, {"a": "1", "b": "2", "c": "3"}) == {
            "/c": ["Unknown field 'c': this bundle does not declare it."]
        }


# --- conditions on keys the schema does not declare ------------------------------------------------------------


def test_a_condition_on_an_undeclared_key_opens_its_fields():
    dependent = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "dependentSchemas": {"z": {"properties": {"w": {"type": "integer"}}, "required": ["w"]}},
    }
    conditional = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "if": {"required": ["z"]},
        "then": {"properties": {"w": {"type": "integer"}}, "required": ["w"]},
    }
    for schema in (dependent, conditional):
        params = {"a": "x", "z": 1, "w": 3}
        assert drawn(schema, params)["/w"].widget == "number"
        assert exact(round_trip(schema, {}, params)) == exact(params)
        assert param_errors(schema, {"a": "x", "z": 1}) == {"/w": ["This field is required."]}


# --- enum equality as JSON Schema defines it ---------------------------------------------------------------------


def test_json_equality_is_json_schemas():
    assert same(1, 1.0) and same([1], [1.0]) and same({"a": [1]}, {"a": [1.0]})
    assert not same(1, True) and not same([1], [True]) and not same({"a": 0}, {"a": False})
    assert not same([1, 2], [2, 1]) and not same({"a": 1}, {"a": 1, "b": 2})


def test_an_enum_of_lists_selects_by_json_equality_and_keeps_the_value_as_written():
    schema = {"type": "object", "properties": {"e": {"enum": [[1], True, 1, {"k": [0]}]}}}
    for stored in ({"e": [1.0]}, {"e": [1]}, {"e": 1.0}, {"e": True}, {"e": {"k": [0.0]}}):
        assert param_errors(schema, stored) == {}
        field = drawn(schema, stored)["/e"]
        assert len([c for c in field.choices if c.selected]) == 1, stored
        assert exact(round_trip(schema, {}, stored)) == exact(stored), stored
    field = drawn(schema, {"e": [True]})["/e"]
    assert [c.label for c in field.choices if c.selected] == ["[true] (not allowed any more)"]
    assert exact(round_trip(schema, {}, {"e": [True]})) == exact({"e": [True]})
    assert param_errors(schema, {"e": [True]}) == {"/e": ['Must be one of: [1], true, 1, {"k": [0]}.']}


def test_a_stored_float_keeps_its_fraction_in_an_integer_enum():
    schema = {"type": "object", "properties": {"n": {"enum": [1, 2]}}}
    assert exact(round_trip(schema, {}, {"n": 1.0})) == exact({"n": 1.0})
    assert exact(round_trip(schema, {}, {"n": 2})) == exact({"n": 2})


# --- a wrong-typed value typed into a number input --------------------------------------------------------------


def test_a_number_typed_wrong_is_kept_and_refused_beside_its_field():
    schema = {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}, "ratio": {"type": "number"}}}
    data, inputs = read_form(render_params(schema, {}, {}))
    # A browser's number input would send "" for "ten"; the form must let what was typed through.
    numeric = [i for i in inputs if i.get("name") in ("param/size", "param/ratio")]
    assert numeric and all(i.get("type") != "number" for i in numeric)
    # a numeric keypad where the value cannot be negative (phones' keypads have no minus sign)
    assert {i["name"]: i.get("inputmode") for i in numeric} == {"param/size": "numeric", "param/ratio": None}
    data["param/size"], data["param/ratio"] = "ten", "1,5"
    params = parse_post(schema, data)
    assert params == {"size": "ten", "ratio": "1,5"}
    errors = param_errors(schema, params)
    assert errors == {"/size": ["Must be a whole number."], "/ratio": ["Must be a number."]}
    html = render_params(schema, {}, params, errors)
    data, _ = read_form(html)
    assert data["param/size"] == "ten" and data["param/ratio"] == "1,5"
    assert "Must be a whole number." in html
