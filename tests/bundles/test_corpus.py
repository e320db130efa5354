"""Real-world-style schemas, written the way platform teams write them for react-jsonschema-form.

Each file under ``tests/fixtures/schemas/rjsf/`` holds a params schema (mostly draft-07, often
without ``$schema``), its rjsf ``ui``, presets, hand-written sample values and the lint warnings its
author should see. For every one: lint passes with exactly those warnings; each sample is drawn with
no JSON fallback and comes back exactly; each preset (over the defaults) comes back exactly; and
values generated from the schema come back as the form's conventions say.
"""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bundles.forms import all_fields, build_fields, initial_values, parse_post
from bundles.loader import lint_inputs
from bundles.schema import Resolver, param_errors
from tests.bundles.formpost import browser_post, browser_safe, expected_after_round_trip, render_params, round_trip

RJSF_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "schemas" / "rjsf"
CORPUS = {p.stem: json.loads(p.read_text()) for p in sorted(RJSF_DIR.glob("*.json"))}


def test_the_corpus_is_large_enough_and_covers_the_styles():
    assert len(CORPUS) >= 12
    schemas = [doc["schema"] for doc in CORPUS.values()]
    text = json.dumps(schemas)
    assert sum("$schema" not in s for s in schemas) >= 6, "most real schemas do not say their dialect"
    for construct in ('"dependencies"', '"definitions"', '"$ref"', '"additionalItems"', '"oneOf"', '"allOf"'):
        assert construct in text, construct
    hints = json.dumps([doc["ui"] for doc in CORPUS.values()])
    for hint in (
        "ui:widget",
        "ui:order",
        "ui:help",
        "ui:placeholder",
        "ui:enumNames",
        "ui:enumDisabled",
        "ui:readonly",
        "ui:disabled",
        "ui:autofocus",
        "ui:emptyValue",
        "ui:field",
        "ui:title",
        "ui:description",
        "ui:classNames",
        "ui:options",
    ):
        assert hint in hints, hint
    for widget in (
        "updown",
        "checkboxes",
        "hidden",
        "color",
        "textarea",
        "password",
        "radio",
        "select",
        "range",
        "alt-date",
        "date",
    ):
        assert f'"ui:widget": "{widget}"' in hints, widget


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_lint_passes_with_exactly_the_expected_warnings(name):
    doc = CORPUS[name]
    problems, warnings = lint_inputs(doc["schema"], doc["ui"], doc["presets"])
    assert problems == []
    expected = doc["lint"]["warnings"]
    assert len(warnings) == len(expected), warnings
    for words in expected:
        assert any(words in w for w in warnings), (words, warnings)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_sample_is_drawn_without_json_and_comes_back_exactly(name):
    doc = CORPUS[name]
    for sample in doc["samples"]:
        assert param_errors(doc["schema"], sample) == {}, "the sample itself must be valid"
        html = render_params(doc["schema"], doc["ui"], sample)
        assert "edited as JSON" not in html
        assert "Other fields" not in html
        back = round_trip(doc["schema"], doc["ui"], sample)
        assert json.dumps(back, sort_keys=True) == json.dumps(sample, sort_keys=True)  # type-exact: 1 is not 1.0


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_preset_over_the_defaults_comes_back_exactly(name):
    doc = CORPUS[name]
    for preset in doc["presets"]:
        start = initial_values(doc["schema"], preset)
        for key, value in preset["params"].items():
            if not isinstance(value, dict):
                assert start[key] == value, "the preset wins over the defaults"
        assert round_trip(doc["schema"], doc["ui"], start) == start, preset["name"]


# --- what each hint draws ------------------------------------------------------------------------------------


def fields_of(name, values=None):
    doc = CORPUS[name]
    start = values if values is not None else doc["samples"][0]
    return {f.pointer: f for f in all_fields(build_fields(doc["schema"], doc["ui"], start))}


def test_dynamic_dependencies_draw_the_chosen_branch_and_errors_land_on_the_field_at_fault():
    doc = CORPUS["queue-dynamic"]
    standard = fields_of("queue-dynamic", {"name": "q", "delivery": "standard", "dead_letter": "No"})
    assert "/dedup_window_s" not in standard and "/max_receives" not in standard
    assert standard["/delivery"].refresh and standard["/dead_letter"].refresh
    fifo = fields_of("queue-dynamic", {"name": "q", "delivery": "fifo", "dead_letter": "Yes"})
    assert fifo["/dedup_window_s"].widget == "number" and fifo["/max_receives"].widget == "number"
    # the controlling field keeps every option (the branch's pin does not narrow it)
    assert [c.value for c in fifo["/delivery"].choices] == ["standard", "fifo"]
    assert [c.label for c in fifo["/delivery"].choices] == ["Standard", "First in, first out"]
    errors = param_errors(doc["schema"], {"name": "q", "delivery": "fifo", "dedup_window_s": 5, "dead_letter": "Yes"})
    assert errors == {"/dedup_window_s": ["Must be at least 60."], "/max_receives": ["This field is required."]}
    assert param_errors(doc["schema"], {"name": "Q!", "delivery": "standard"}) == {
        "/name": ["Lower-case letters, digits and dashes, starting with a letter."]
    }


def test_nested_dynamic_dependencies_draw_inside_their_object():
    drawn = fields_of("nested-dynamic", {"backup": {"enabled": "hourly"}})
    assert {"/backup/keep_hours", "/backup/copy_region"} <= set(drawn) and "/backup/keep_days" not in drawn
    assert drawn["/backup/copy_region"].help.strip() == "<p>A second copy, elsewhere.</p>"
    errors = param_errors(CORPUS["nested-dynamic"]["schema"], {"backup": {"enabled": "daily", "keep_days": 99}})
    assert errors == {"/backup/keep_days": ["Must be at most 35."]}


def test_tri_state_booleans_offer_not_set_and_leave_the_key_out():
    drawn = fields_of("feature-flags", {})
    for pointer in ("/deletion_protection", "/public", "/versioning", "/force_destroy"):
        assert drawn[pointer].widget == "radio", pointer
        assert [(c.value, c.label) for c in drawn[pointer].choices] == [
            ("", "Not set"),
            ("true", "Yes"),
            ("false", "No"),
        ]
        assert drawn[pointer].choices[0].selected
    assert drawn["/logging"].widget == "checkbox" and drawn["/encrypted"].widget == "checkbox"
    doc = CORPUS["feature-flags"]
    assert round_trip(doc["schema"], doc["ui"], {}) == {"logging": False, "encrypted": True}
    assert round_trip(doc["schema"], doc["ui"], {"public": False}) == {
        "public": False,
        "logging": False,
        "encrypted": True,
    }


def test_widgets_and_hints_are_drawn_as_rjsf_users_expect():
    drawn = fields_of("bucket-widgets")
    assert drawn["/region"].widget == "radio" and drawn["/storage_class"].widget == "select"
    assert drawn["/notes"].widget == "textarea" and drawn["/notes"].attrs["rows"] == 6
    assert drawn["/token"].widget == "password"
    assert drawn["/colour"].attrs["type"] == "color"
    assert drawn["/expires"].attrs["type"] == "date" and drawn["/review"].attrs["type"] == "date"
    assert drawn["/owner_email"].attrs["type"] == "email" and drawn["/docs"].attrs["type"] == "url"
    assert drawn["/replicas"].widget == "number" and drawn["/lifecycle_days"].widget == "range"
    assert drawn["/methods"].widget == "checkboxes" and drawn["/methods"].attrs["inline"]
    assert drawn["/managed_by"].widget == "hidden" and drawn["/website"].widget == "checkbox"
    # an unset colour is not drawn as a colour input (it would post #000000)
    unset = fields_of("bucket-widgets", {"name": "abc", "region": "eu-west-1"})
    assert unset["/colour"].attrs.get("type") != "color"

    hinted = fields_of("ui-hints")
    assert hinted["/service"].label == "Service name" and hinted["/service"].attrs["autofocus"]
    assert "<strong>users</strong>" in hinted["/service"].help and "Letters and dashes." in hinted["/service"].help
    assert hinted["/service"].attrs["placeholder"] == "checkout"
    tier = hinted["/tier"]
    assert tier.widget == "select" and [c.label for c in tier.choices][1:] == ["Bronze", "Silver", "Gold", "Platinum"]
    assert [c.disabled for c in tier.choices] == [False, False, False, False, True]
    assert hinted["/owner"].locked and hinted["/region"].locked
    assert not hinted["/ports"].can_add and not hinted["/ports"].can_remove and hinted["/aliases"].can_add
    assert hinted["/readme"].attrs["rows"] == 10


def test_a_disabled_option_the_value_holds_stays_selectable():
    tier = fields_of("ui-hints", {"service": "x", "tier": "platinum"})["/tier"]
    assert [(c.value, c.selected, c.disabled) for c in tier.choices if c.value == "platinum"] == [
        ("platinum", True, False)
    ]


def test_tuples_draw_one_field_per_position_with_their_ui():
    drawn = fields_of("worker-tuple")
    assert drawn["/schedule/0"].widget == "radio" and drawn["/schedule/1"].widget == "number"
    assert drawn["/limits/0"].label == "CPU"


# --- property: values the schema accepts come back ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS))
@hsettings(max_examples=25, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_round_trip_holds_for_values_the_schema_accepts(name, data):
    from hypothesis_jsonschema import from_schema

    doc = CORPUS[name]
    params = data.draw(from_schema(doc["schema"]))
    assume(browser_safe(params) and param_errors(doc["schema"], params) == {})
    assert round_trip(doc["schema"], doc["ui"], params) == expected_after_round_trip(doc["schema"], doc["ui"], params)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text("abc -1.", max_size=4)
)
_ANY_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text("abxy", min_size=1, max_size=2), inner, max_size=2)
    ),
    max_leaves=4,
)


@pytest.mark.parametrize("name", sorted(CORPUS))
@hsettings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_round_trip_holds_for_values_the_schema_refuses_too(name, data):
    """Any JSON under the declared names (a stored value a bundle upgrade or a policy made invalid, a wrong
    type, a null): it comes back exactly, by the form's conventions, for validation to refuse beside its field."""
    doc = CORPUS[name]
    names = sorted(Resolver(doc["schema"]).resolve(doc["schema"]).get("properties") or {})  # allOf's too
    params = data.draw(st.dictionaries(st.sampled_from(names), _ANY_JSON, max_size=3))
    assume(browser_safe(params))
    back = round_trip(doc["schema"], doc["ui"], params)
    expected = expected_after_round_trip(doc["schema"], doc["ui"], params)
    assert json.dumps(back, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize("stored", ["", 0, [], None, "x", 1.5, True, [1]])
def test_a_variant_holding_a_value_that_is_not_an_object_shows_it_as_json_keeps_it_and_refuses_it(stored):
    """Once drawn at random (CI red by chance): a stored "" under a variant selector is no blank text to leave out.

    It is drawn under the selector as JSON, posted back as it is, and refused beside the selector."""
    doc = CORPUS["auth-variants"]
    params = {"auth": stored}
    errors = param_errors(doc["schema"], params)
    assert errors == {"/auth": ["Must be one of the options: Password, IAM role."]}
    drawn = all_fields(build_fields(doc["schema"], doc["ui"], params, errors))
    selector, control = [f for f in drawn if f.pointer == "/auth"]
    assert selector.widget == "variant" and selector.errors == errors["/auth"]
    assert control.widget == "json" and json.loads(control.value) == stored
    back = round_trip(doc["schema"], doc["ui"], params)
    assert json.dumps(back) == json.dumps({"auth": stored, "audit": True})  # type-exact: 0 is not false, "" is kept
    assert expected_after_round_trip(doc["schema"], doc["ui"], params) == back


@pytest.mark.parametrize("stored", ["", "someone-else", 0, None])
def test_a_ui_readonly_field_keeps_its_stored_value_even_blank(stored):
    """Found shaking the property: a stored "" under ui:readonly came back left out, so saving an untouched edit
    form was refused ("Owner is read-only ... stays .") and the "" was lost. Like readOnly, it keeps what is stored."""
    doc = CORPUS["ui-hints"]
    params = {"service": "checkout", "owner": stored}
    assert fields_of("ui-hints", params)["/owner"].locked
    assert json.dumps(round_trip(doc["schema"], doc["ui"], params)["owner"]) == json.dumps(stored)
    tampered = browser_post(doc["schema"], doc["ui"], params)
    tampered["param/owner"] = "changed"
    assert parse_post(doc["schema"], tampered, stored=params, ui=doc["ui"])["owner"] == stored
    assert parse_post(doc["schema"], tampered, stored={}, ui=doc["ui"])["owner"] == "changed"  # new: refused later


def test_a_map_of_lists_is_edited_as_json_and_read_back_as_json():
    schema = {
        "type": "object",
        "properties": {
            "routes": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
        },
    }
    params = {"routes": {"a": ["x"], "b": []}}
    assert round_trip(schema, {}, params) == params


def test_a_stored_float_selects_its_integer_option():
    schema = {"type": "object", "properties": {"n": {"enum": [1, 2]}}}
    drawn = {f.pointer: f for f in all_fields(build_fields(schema, {}, {"n": 1.0}))}
    assert [c.label for c in drawn["/n"].choices if c.selected] == ["1"]
    assert json.dumps(round_trip(schema, {}, {"n": 1.0})) == json.dumps({"n": 1.0})  # not dropped, not turned into 1


def test_a_stored_value_no_longer_offered_is_shown_kept_and_refused_beside_its_field():
    schema = {"type": "object", "properties": {"size": {"enum": ["s", "m"]}, "n": {"type": "integer", "enum": [1, 2]}}}
    stored = {"size": "xl", "n": 7}
    errors = param_errors(schema, stored)
    assert errors == {"/size": ["Must be one of: s, m."], "/n": ["Must be one of: 1, 2."]}
    drawn = {f.pointer: f for f in all_fields(build_fields(schema, {}, stored, errors))}
    assert [(c.value, c.label) for c in drawn["/size"].choices if c.selected] == [
        ('json:"xl"', "xl (not allowed any more)")
    ]
    assert drawn["/size"].errors == ["Must be one of: s, m."]
    assert round_trip(schema, {}, stored) == stored  # not dropped, not turned into another value: 7 stays 7
