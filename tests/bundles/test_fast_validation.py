"""The compiled pass/fail check (bundles.schema.fast) says exactly what jsonschema says.

Over every schema Slipway ships or is tested with (the catalog, the fixture bundles, the rjsf corpus,
the fixture schemas) and the hand-made schemas below, whose keywords Python and Rust read
differently (regexes, formats, float multipleOf, draft-04 integers, patternProperties): values drawn
from each schema, any JSON under its property names, the corpus's presets and samples. The fast
check's "valid" must be the reference's ``is_valid``, every time.
"""

import functools
import json
from pathlib import Path

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bundles.loader import find_bundles, read_bundle
from bundles.schema import compile_validator, param_errors
from bundles.schema.fast import fast_validator

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


pytestmark = pytest.mark.filterwarnings("ignore:Possible nested set")


@functools.cache
def _bundle_schemas() -> dict[str, dict]:
    out = {}
    for folder in (ROOT / "bundles" / "catalog", FIXTURES / "bundles"):
        for path in find_bundles(folder):
            out[f"bundle:{path.relative_to(ROOT)}"] = read_bundle(path).params
    return out


@functools.cache
def _fixture_schemas() -> dict[str, dict]:
    out = {}
    for path in sorted((FIXTURES / "schemas").glob("*.json")):
        if not path.name.endswith(".ui.json"):
            out[f"schema:{path.stem}"] = json.loads(path.read_text())
    for path in sorted((FIXTURES / "schemas" / "rjsf").glob("*.json")):
        out[f"rjsf:{path.stem}"] = json.loads(path.read_text())["schema"]
    return out


# Schemas whose keywords the two engines read differently, each with values on the edge.
TRICKY = {
    "whitespace-regex": (
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "^\\S+$"}}},
        [{"a": "a\x1cb"}, {"a": "ab"}, {"a": "a b"}, {"a": "a\u2028b"}],
    ),
    "digit-regex": (
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "^\\D+$"}}},
        [{"a": "\u0663"}, {"a": "x"}, {"a": "1"}],
    ),
    "dollar-newline": (
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "^[a-z]+$"}}},
        [{"a": "abc\n"}, {"a": "abc"}],
    ),
    "lookahead-dot": (
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?!.*bad)"}}},
        [{"a": "\rbad"}, {"a": "\u2028bad"}, {"a": "good"}],
    ),
    "posix-class": (
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "^[[:alpha:]]+$"}}},
        [{"a": "abc"}, {"a": "[:]"}, {"a": "a]"}],
    ),
    "formats": (
        {
            "type": "object",
            "properties": {
                f: {"type": "string", "format": f}
                for f in ("email", "uri", "date-time", "date", "ipv4", "ipv6", "hostname", "uuid", "regex", "time")
            },
        },
        [
            {"email": "nobody"},
            {"email": "a@b"},
            {"uri": "not a uri"},
            {"date-time": "yesterday"},
            {"date": "2026-02-30"},
            {"date": "2026-02-03"},
            {"ipv4": "999.1.1.1"},
            {"ipv6": "::1"},
            {"hostname": "-bad-"},
            {"uuid": "nope"},
            {"regex": "(unclosed"},
            {"regex": "\\p{L}"},
            {"time": "25:00"},
        ],
    ),
    "float-multiple": (
        {"type": "object", "properties": {"a": {"type": "number", "multipleOf": 0.1}}},
        [{"a": 0.3}, {"a": 0.7}, {"a": 1e308}, {"a": 3}],
    ),
    "draft4-integers": (
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": {"a": {"type": "integer", "minimum": 0, "exclusiveMinimum": True}},
        },
        [{"a": 1.0}, {"a": 0}, {"a": 1}, {"a": True}],
    ),
    "pattern-properties": (
        {
            "type": "object",
            "patternProperties": {"^x\\d$": {"type": "integer"}, "^[a-z]+$": {"type": "string"}},
            "additionalProperties": False,
        },
        [{"x\u0663": 1}, {"abc\n": 1}, {"abc": "s"}, {"x1": 1}, {"x1": "s"}],
    ),
    "plain-pattern-properties": (
        {"type": "object", "patternProperties": {"^[a-z]{2,4}$": {"type": "integer"}}, "additionalProperties": False},
        [{"abc\n": 1}, {"abc": 1}, {"abc": "s"}, {"abcde": 1}],
    ),
    "equality": (
        {"type": "object", "properties": {"e": {"enum": [1, "1", None]}, "u": {"uniqueItems": True}}},
        [{"e": True}, {"e": 1.0}, {"u": [1, True]}, {"u": [1, 1.0]}, {"u": [{"a": 1}, {"a": 1.0}]}],
    ),
    "big-numbers": (
        {"type": "object", "properties": {"n": {"type": "integer", "maximum": 9223372036854775807}}},
        [{"n": 2**63}, {"n": 2**63 - 1}, {"n": 2**80}, {"n": float("inf")}, {"n": float("nan")}],
    ),
    "deep": (
        {"$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}}, "$ref": "#/$defs/t"},
        [[[[[[]]]]], [[[1]]]],
    ),
    "strings": (
        {"type": "object", "properties": {"s": {"type": "string", "maxLength": 2, "minLength": 2}}},
        [{"s": "\U0001f600\U0001f600"}, {"s": "e\u0301"}, {"s": "\x00\x00"}, {"s": "\ud800a"}],
    ),
}

SCHEMAS = {**_bundle_schemas(), **_fixture_schemas(), **{f"tricky:{k}": v[0] for k, v in TRICKY.items()}}


def _agree(schema: dict, value) -> None:
    fast, reference = fast_validator(schema), compile_validator(schema)
    try:
        expected = reference.is_valid(value)
    except RecursionError:
        return  # the reference cannot tell; nor does the fast check pretend to (it asks the reference)
    assert fast.is_valid(value) == expected, json.dumps(value, default=repr)
    if fast.quick(value):
        assert expected, f"the Rust engine's valid is not the reference's: {value!r}"


def test_the_schemas_are_many_and_most_are_compiled_by_the_rust_engine():
    assert len(_bundle_schemas()) >= 20
    assert len(_fixture_schemas()) >= 15
    plain = [name for name in (*_bundle_schemas(), *_fixture_schemas()) if fast_validator(SCHEMAS[name]).rust]
    # Every catalog bundle gets the fast path (the bulk dry run's everyday case).
    assert all(fast_validator(s).rust for name, s in SCHEMAS.items() if name.startswith("bundle:bundles/catalog"))
    assert len(plain) >= 0.8 * (len(_bundle_schemas()) + len(_fixture_schemas())), plain


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_the_edge_values_get_the_references_verdict(name):
    schema, values = TRICKY[name]
    for value in values:
        _agree(schema, value)


def test_without_the_python_keywords_the_rust_engine_would_disagree():
    """The test above can fail: the Rust engine on its own reads these differently from jsonschema."""
    disagreements = 0
    for schema, values in TRICKY.values():
        try:
            raw = jsonschema_rs.validator_for(schema, validate_formats=True)
        except Exception:
            continue
        for value in values:
            try:
                fast_says = raw.is_valid(value)
                disagreements += fast_says != compile_validator(schema).is_valid(value)
            except (ValueError, RecursionError):
                continue
    assert disagreements >= 5


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(["a@b", "2026-01-01", "::1", "10.0.0.1", "db.r6g.large", "x", "", "true", "1"])
)
_ANY_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


def _names(schema: dict) -> list[str]:
    names: set[str] = set()
    stack = [schema]
    while stack:
        here = stack.pop()
        if isinstance(here, dict):
            if isinstance(here.get("properties"), dict):
                names.update(here["properties"])
            stack.extend(v for v in here.values() if isinstance(v, (dict, list)))
        elif isinstance(here, list):
            stack.extend(here)
    return sorted(names) or ["a"]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@hsettings(max_examples=15, suppress_health_check=list(HealthCheck), deadline=None, derandomize=True)
@given(data=st.data())
def test_fast_and_reference_agree_on_values_from_the_schema(name, data):
    from hypothesis_jsonschema import from_schema
    from hypothesis_jsonschema._resolve import resolve_all_refs

    schema = SCHEMAS[name]
    try:
        resolve_all_refs(json.loads(json.dumps(schema)))
        strategy = from_schema(schema)
    except Exception:
        strategy = st.dictionaries(st.sampled_from(_names(schema)), _ANY_JSON, max_size=4)
    _agree(schema, data.draw(strategy))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@hsettings(max_examples=20, suppress_health_check=list(HealthCheck), deadline=None, derandomize=True)
@given(data=st.data())
def test_fast_and_reference_agree_on_any_json_under_the_schemas_names(name, data):
    """Stored values a new version or a policy makes invalid: wrong types, nulls, unknown keys, odd text."""
    schema = SCHEMAS[name]
    _agree(schema, data.draw(st.dictionaries(st.sampled_from(_names(schema)), _ANY_JSON, max_size=4)))


def test_the_corpus_samples_and_presets_agree():
    for path in sorted((FIXTURES / "schemas" / "rjsf").glob("*.json")):
        doc = json.loads(path.read_text())
        for value in [*(doc.get("samples") or []), *[p.get("params") or {} for p in doc.get("presets") or []]]:
            _agree(doc["schema"], value)


def test_the_dry_run_gives_the_same_messages_as_a_single_submit():
    """Validators.check: the fast path decides pass/fail, and an invalid value's messages are param_errors'."""
    from deployments.estate.validation import Validators

    class Version:
        pk = "v"

        class bundle:
            name = "b"

        params_schema = TRICKY["formats"][0]

    class Env:
        pk = 1

    validators = Validators()
    validators._policies[1] = None
    for value in [*TRICKY["formats"][1], {"email": "a@b", "ipv4": "10.0.0.1"}, {"uri": 3}]:
        verdict = validators.check(environment=Env, bundle_version=Version, params=value)
        assert verdict.errors == param_errors(Version.params_schema, value)


# --- The dry run's messages, worded once per distinct failing value (FastValidator.worded) -------------------------

_STRICT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["instance_class"],
    "properties": {
        "instance_class": {"type": "string", "enum": [f"db.{f}.large" for f in ("r6g", "m5")]},
        "replicas": {"type": "integer", "minimum": 0, "maximum": 8},
        "storage": {
            "type": "object",
            "required": ["encrypted"],
            "properties": {"size_gb": {"type": "integer", "minimum": 10}, "encrypted": {"const": True}},
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
    },
}
# Keywords that read more than one property, at the top and beside "properties".
CROSS = {
    "dependent-required": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
        "dependentRequired": {"a": ["b", "c"]},
    },
    "if-then-else": {
        "type": "object",
        "properties": {"kind": {"enum": ["x", "y"]}, "size": {"type": "integer"}},
        "if": {"properties": {"kind": {"const": "x"}}},
        "then": {"required": ["size"], "properties": {"size": {"maximum": 3}}},
        "else": {"properties": {"size": {"minimum": 10}}},
    },
    "one-of-at-the-top": {
        "type": "object",
        "properties": {"kind": {"type": "string"}, "n": {"type": "integer", "maximum": 5}},
        "oneOf": [
            {"title": "X", "properties": {"kind": {"const": "x"}}, "required": ["n"]},
            {"title": "Y", "properties": {"kind": {"const": "y"}, "n": {"minimum": 2}}},
        ],
    },
    "overlay": {  # a policy overlay, as estate.validation adds it (with_overlay)
        "type": "object",
        "properties": {"n": {"type": "integer", "maximum": 10}, "s": {"type": "string"}},
        "allOf": [{"properties": {"n": {"maximum": 4}, "s": {"pattern": "^[a-z]+$"}}, "required": ["s"]}],
    },
    "false-properties": {  # jsonschema reports a false property at the object, worded from its keys
        "type": "object",
        "properties": {"a": False, "b": False, "c": {"type": "integer"}, "d": {"properties": {"e": False}}},
    },
    "pattern-and-additional": {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "patternProperties": {"^x": {"type": "string"}},
        "additionalProperties": {"type": "boolean"},
        "minProperties": 2,
        "propertyNames": {"maxLength": 4},
    },
    "keys-only": {  # the root keywords worded once per key list (FastValidator._keys)
        "type": "object",
        "properties": {"a": {"type": "integer"}, "kind": {"type": "string"}},
        "patternProperties": {"^x": {"type": "string"}},
        "additionalProperties": False,
        "required": ["a", "kind"],
        "propertyNames": {"maxLength": 4},
        "dependentRequired": {"xy": ["a", "n"]},
    },
    "unevaluated": {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "allOf": [{"properties": {"b": {"type": "string"}}}],
        "unevaluatedProperties": False,
    },
    "refs-and-defs": {
        "$defs": {
            "size": {"type": "integer", "minimum": 1},
            "node": {"properties": {"next": {"$ref": "#/$defs/node"}}},
        },
        "$ref": "#/$defs/node",
        "type": "object",
        "properties": {"size": {"$ref": "#/$defs/size"}, "sizes": {"type": "array", "items": {"$ref": "#/$defs/size"}}},
    },
    "draft-7-root-ref": {  # draft 7 ignores a $ref's siblings: nothing to split, jsonschema validates it whole
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"o": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
        "$ref": "#/definitions/o",
        "properties": {"a": {"type": "string"}},
    },
}
_EDGES = [
    {},
    {"a": "\x00", "b": "\ud800", "c": 2**70, "d": float("inf")},  # value problems beside schema errors
    {"a\x00": 1, "instance_class": "db.t3.large"},
    {"labels": {"owner": "\x00long", "k\ud800": "v"}, "replicas": 9},
    {"storage": {"encrypted": 1}, "replicas": 1.0},
    {"storage": {"encrypted": True, "size_gb": -0.0}, "replicas": True},
    {"kind": "x"},
    {"kind": "x", "n": 9},
    {"kind": "y", "n": 1},
    {"kind": "y", "n": 3},
    {"a": 1, "b": 2},  # before {"a": 1}: a false property's words name every false key present, not its own
    {"a": 1},
    {"a": 1, "c": "no", "d": {"e": 1}},
    {"xy": 1, "zzzzz": 1, "a": "s"},
    {"a": 1, "b": "s", "z": 1},
    {"size": 0, "sizes": [1, 0, -1], "next": {"next": {"next": 3}}},
    {"n": 7, "s": "A"},
    {"n": 7},
    [1, 2],
    "text",
    {"storage": [], "labels": None, "instance_class": 1},
]


def _old_dry_run(schema: dict, params) -> dict:
    """What the dry run said before the memo: jsonschema's iter_errors over the whole value, then param_errors."""
    if not isinstance(params, dict):
        return {"": ["The parameters must be a JSON object."]}
    found = list(compile_validator(schema).iter_errors(params))
    return param_errors(schema, params, found=found) if found else {}


def _dry_run(schemas: dict[str, dict], values) -> None:
    """Validators.check (the bulk dry run's loop) against the old path, messages and their order, value by value."""
    from deployments.estate.validation import Validators

    validators = Validators()
    validators._policies[1] = None

    class Env:
        pk = 1

    for name, schema in schemas.items():
        version = type("Version", (), {"pk": name, "params_schema": schema, "bundle": type("B", (), {"name": "b"})})
        for value in values:
            got = validators.check(environment=Env, bundle_version=version, params=value).errors
            expected = _old_dry_run(schema, value)
            assert list(got.items()) == list(expected.items()), (name, json.dumps(value, default=repr))


def _estate(n: int) -> list[dict]:
    """Params like the bench's (bench/estate_query.py): many invalid ones, most failing alike."""
    return [
        {
            "instance_class": f"db.{('r6g', 'm5', 't3', 'r5')[i % 4]}.{('large', 'xlarge')[(i // 4) % 2]}",
            "replicas": i % 11,
            "storage": {"size_gb": 5 + (i * 37) % 40, "encrypted": i % 5 != 0},
            "labels": {"owner": f"o{i % 50}", "cost": "c" * (i % 5)},
            **({"extra": i % 3} if i % 13 == 0 else {}),
        }
        for i in range(n)
    ]


def test_the_dry_run_words_many_configs_failing_alike_as_jsonschema_does():
    values = _estate(1500)
    _dry_run({"strict": _STRICT, **{k: v for k, v in CROSS.items()}}, [*values, *_EDGES, *values[:50]])
    fast = fast_validator(_STRICT)
    assert fast._split and 0 < len(fast._memo) < 300  # the memo worked: a few hundred distinct failing values


@pytest.mark.parametrize("name", sorted(CROSS))
def test_the_dry_run_words_cross_property_keywords_as_jsonschema_does(name):
    _dry_run({name: CROSS[name]}, _EDGES)
    _dry_run({name: CROSS[name]}, _EDGES)  # again, from the memo


def test_a_schema_without_top_level_properties_to_split_is_validated_whole():
    assert fast_validator(CROSS["draft-7-root-ref"]).worded({"a": "s"}) is None
    assert fast_validator({"type": "object", "required": ["a"]}).worded({}) is None
    assert fast_validator(_STRICT).worded([1]) is None


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@hsettings(max_examples=15, suppress_health_check=list(HealthCheck), deadline=None, derandomize=True)
@given(data=st.data())
def test_the_worded_errors_are_param_errors_on_any_json_under_the_schemas_names(name, data):
    """Every schema Slipway ships or is tested with: param_errors from the memo's parts is param_errors, in order."""
    schema = SCHEMAS[name]
    value = data.draw(st.dictionaries(st.sampled_from(_names(schema)), _ANY_JSON, max_size=4))
    try:
        expected = param_errors(schema, value)
    except RecursionError:
        return
    worded = fast_validator(schema).worded(value)
    if worded is not None:
        for _ in range(2):  # fresh, then from the memo
            worded = fast_validator(schema).worded(value)
            got = param_errors(schema, value, problems=worded[0], parts=worded[1])
            assert list(got.items()) == list(expected.items()), json.dumps(value, default=repr)
    _dry_run({name: schema}, [value])


def test_the_memo_tells_apart_values_python_finds_equal():
    """1, 1.0 and True; 0.0 and -0.0; the same object's keys in another order: told apart, not confused."""
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "enum": [2]},
            "o": {"type": "object", "additionalProperties": False, "properties": {"a": {}}},
        },
    }
    _dry_run(
        {"equal": schema},
        [{"n": 1}, {"n": 1.0}, {"n": True}, {"n": 0.0}, {"n": -0.0}, {"o": {"x": 1, "y": 1}}, {"o": {"y": 1, "x": 1}}],
    )


def test_without_the_memo_keyed_exactly_the_messages_would_differ(monkeypatch):
    """The tests above can fail: a memo keyed by Python equality (True == 1) gives a config another's messages."""
    from bundles.schema import fast

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    monkeypatch.setattr(fast, "_key", lambda name, value: (name, value))
    monkeypatch.setattr(fast, "_FAST", {})
    validator = fast.fast_validator(schema)
    validator.worded({"n": True})  # "Must be a whole number.", memoised under ("n", True) == ("n", 1)
    problems, parts = validator.worded({"n": 1})
    assert param_errors(schema, {"n": 1}, problems=problems, parts=parts) != param_errors(schema, {"n": 1}) == {}
