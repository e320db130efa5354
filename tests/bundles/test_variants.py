"""``oneOf``/``anyOf`` branches without a discriminator (no ``const`` tells them apart): the form draws the branch
the value is in (or the closest), lets the developer switch, and errors name the branch (issue 12)."""

import json

from bundles.forms import all_fields, build_fields, parse_post
from bundles.schema import param_errors
from tests.bundles.formpost import browser_post, read_form, render_params, round_trip

SIZE = {
    "type": "object",
    "properties": {
        "size": {
            "title": "Size",
            "oneOf": [
                {
                    "title": "By disk",
                    "type": "object",
                    "properties": {"gb": {"type": "integer", "minimum": 1}},
                    "required": ["gb"],
                    "additionalProperties": False,
                },
                {
                    "title": "By count",
                    "type": "object",
                    "properties": {"count": {"type": "integer", "maximum": 10}},
                    "required": ["count"],
                    "additionalProperties": False,
                },
            ],
        }
    },
}
NESTED = {
    "type": "object",
    "properties": {
        "x": {
            "title": "Limit",
            "oneOf": [
                {"type": "string", "title": "Text"},
                {
                    "title": "Other",
                    "oneOf": [{"type": "integer", "title": "Whole"}, {"type": "boolean", "title": "Flag"}],
                },
            ],
        }
    },
}


def selectors(schema, values, **kwargs):
    return {
        f.attrs["selector_name"]: [c.label for c in f.choices if c.selected]
        for f in all_fields(build_fields(schema, {}, values, **kwargs))
        if f.widget == "variant"
    }


def test_the_branch_the_value_is_in_is_drawn():
    assert selectors(SIZE, {"size": {"gb": 5}}) == {"_variant/size": ["By disk"]}
    assert selectors(SIZE, {"size": {"count": 5}}) == {"_variant/size": ["By count"]}
    for params in ({"size": {"gb": 5}}, {"size": {"count": 5}}):
        assert round_trip(SIZE, {}, params) == params


def test_a_value_no_branch_accepts_is_drawn_in_the_closest_with_its_error_beside_the_field():
    params = {"size": {"count": 50}}
    errors = param_errors(SIZE, params)
    assert errors == {"/size/count": ["Must be at most 10."]}
    assert selectors(SIZE, params) == {"_variant/size": ["By count"]}
    html = render_params(SIZE, {}, params, errors)
    assert "Other fields" not in html and 'id="f-size-count-errors"' in html
    assert round_trip(SIZE, {}, params) == params


def test_a_union_inside_a_union_has_its_own_selector_and_keeps_the_value():
    for params in ({"x": 5}, {"x": True}, {"x": "a"}):
        assert json.dumps(round_trip(NESTED, {}, params)) == json.dumps(params)
    assert selectors(NESTED, {"x": 5}) == {"_variant/x": ["Other"], "_variant2/x": ["Whole"]}
    data, _ = read_form(render_params(NESTED, {}, {"x": 5}))
    assert data.getlist("_variant/x") == ["1"] and data.getlist("_variant2/x") == ["0"]


def test_switching_branch_draws_the_branch_chosen_even_before_its_fields_are_filled():
    data = browser_post(SIZE, {}, {"size": {"gb": 5}})
    data["_variant/size"] = "1"
    params = parse_post(SIZE, data)
    assert params == {"size": {}}
    assert selectors(SIZE, params, posted=data) == {"_variant/size": ["By count"]}
    fields = {f.pointer: f for f in all_fields(build_fields(SIZE, {}, params, posted=data))}
    assert "/size/count" in fields and "/size/gb" not in fields


def test_errors_name_the_branches_when_none_stands_out():
    assert param_errors(SIZE, {"size": 3}) == {"/size": ["Must be one of the options: By disk, By count."]}
    both = {
        "type": "object",
        "properties": {"n": {"oneOf": [{"title": "Small", "maximum": 10}, {"title": "Even", "multipleOf": 2}]}},
    }
    assert param_errors(both, {"n": 4}) == {
        "/n": ["Matches more than one of the options (Small, Even); it must match exactly one."]
    }
