"""The one walk of a JSON Schema: every subschema with its pointer and kind, and the concrete places in
params of the values a predicate selects."""

import pytest

from bundles.schema import (
    ANY,
    deep_merge,
    describe_inputs,
    immutable_values,
    initial_values,
    is_legacy,
    matching_values,
    resolve_ref,
    sensitive_values,
    walk,
)

SECRET = {"type": "string", "x-sensitive": True}
SCHEMA = {
    "type": "object",
    "$defs": {"secret": SECRET, "node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
    "properties": {
        "plain": {"type": "string"},
        "rules": {"type": "array", "items": {"type": "object", "properties": {"token": SECRET}}},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, SECRET]},
        "auth": {"anyOf": [{"properties": {"token": SECRET}}, {"properties": {"kind": {"const": "none"}}}]},
        "env": {"type": "object", "additionalProperties": SECRET},
        "headers": {"type": "object", "patternProperties": {"^X-Secret-": SECRET}},
        "api_key": {"$ref": "#/$defs/secret"},
        "tree": {"$ref": "#/$defs/node"},
        "mode": {"type": "string"},
    },
    "if": {"properties": {"mode": {"const": "remote"}}},
    "then": {"properties": {"remote_password": SECRET}},
    "dependentSchemas": {"proxy": {"properties": {"proxy_password": SECRET}}},
    "allOf": [{"properties": {"extra": {"type": "object", "properties": {"pin": SECRET}}}}],
}


def test_it_yields_every_subschema_with_its_pointer_kind_and_instance_path():
    nodes = {(n.pointer, n.kind, n.path) for n in walk(SCHEMA)}
    assert ("", "root", ()) in nodes
    assert ("/properties/rules/items/properties/token", "property", ("rules", ANY, "token")) in nodes
    assert ("/properties/pair/prefixItems/1", "tuple_item", ("pair", 1)) in nodes
    assert ("/properties/auth/anyOf/0", "variant", ("auth",)) in nodes
    assert ("/properties/env/additionalProperties", "map_value", ("env", ANY)) in nodes
    assert ("/properties/headers/patternProperties/^X-Secret-", "pattern_value", ("headers", ANY)) in nodes
    assert ("/$defs/secret", "ref", ("api_key",)) in nodes
    assert ("/if", "if", ()) in nodes
    assert ("/then/properties/remote_password", "property", ("remote_password",)) in nodes
    assert ("/dependentSchemas/proxy", "dependent", ()) in nodes
    assert ("/allOf/0/properties/extra/properties/pin", "property", ("extra", "pin")) in nodes


def test_a_recursive_ref_is_walked_once_round():
    tree = [n for n in walk(SCHEMA) if n.path[:1] == ("tree",)]
    assert [(n.kind, n.path) for n in tree] == [
        ("property", ("tree",)),
        ("ref", ("tree",)),
        ("property", ("tree", "child")),  # its own $ref is the definition already open: not followed again
    ]


def test_it_finds_every_sensitive_value_in_params_wherever_the_schema_puts_it():
    params = {
        "plain": "visible",
        "rules": [{"token": "t0"}, {"token": "t1"}],
        "pair": ["name", "p1"],
        "auth": {"token": "a1"},
        "env": {"A": "e1", "B/C": "e2"},
        "headers": {"X-Secret-One": "h1", "X-Public": "shown"},
        "api_key": "k1",
        "mode": "remote",
        "remote_password": "r1",
        "proxy": "on",
        "proxy_password": "x1",
        "extra": {"pin": "1234"},
    }
    found = {m.pointer: m.value for m in sensitive_values(SCHEMA, params)}
    assert found == {
        "/rules/0/token": "t0",
        "/rules/1/token": "t1",
        "/pair/1": "p1",
        "/auth/token": "a1",
        "/env/A": "e1",
        "/env/B~1C": "e2",
        "/headers/X-Secret-One": "h1",
        "/api_key": "k1",
        "/remote_password": "r1",
        "/proxy_password": "x1",
        "/extra/pin": "1234",
    }


def test_a_value_some_branch_calls_sensitive_is_sensitive_whichever_branch_is_in_use():
    schema = {"oneOf": [{"properties": {"key": {"type": "string"}}}, {"properties": {"key": SECRET}}]}
    assert [m.pointer for m in sensitive_values(schema, {"key": "x"})] == ["/key"]


def test_a_selected_object_is_one_value_not_its_parts():
    schema = {"properties": {"creds": {"type": "object", "x-sensitive": True, "properties": {"user": SECRET}}}}
    assert [m.pointer for m in sensitive_values(schema, {"creds": {"user": "u"}})] == ["/creds"]


def test_immutable_values_and_any_predicate_use_the_same_walk():
    schema = {"properties": {"disks": {"type": "array", "items": {"properties": {"zone": {"x-immutable": True}}}}}}
    assert [m.pointer for m in immutable_values(schema, {"disks": [{"zone": "a"}]})] == ["/disks/0/zone"]
    titled = matching_values(SCHEMA, {"plain": "p", "mode": "m"}, lambda s: s.get("type") == "string")
    assert {m.pointer for m in titled} == {"/plain", "/mode"}


def test_refs_resolve_inside_the_schema_only():
    assert resolve_ref(SCHEMA, "#/$defs/secret") == SECRET
    assert resolve_ref(SCHEMA, "#") == SCHEMA
    assert resolve_ref(SCHEMA, "https://example.com/schema.json") is None
    assert resolve_ref(SCHEMA, "#/$defs/missing") is None


def test_the_dialect_follows_dollar_schema_and_defaults_to_2020_12():
    assert not is_legacy({"type": "object"})
    assert is_legacy({"$schema": "http://json-schema.org/draft-07/schema#"})


def test_a_preset_is_laid_over_the_defaults_key_by_key():
    schema = {
        "type": "object",
        "properties": {
            "storage": {
                "type": "object",
                "properties": {"gb": {"type": "integer", "default": 20}, "encrypted": {"default": True}},
            },
            "size": {"default": "small"},
        },
    }
    assert initial_values(schema, {"params": {"storage": {"gb": 100}}}) == {
        "storage": {"gb": 100, "encrypted": True},
        "size": "small",
    }
    assert deep_merge({"a": [1, 2], "b": {"c": 1}}, {"a": [3], "b": {"d": 2}}) == {"a": [3], "b": {"c": 1, "d": 2}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("rules", {"type": "array", "required": False, "sensitive": False}),
        ("rules[].token", {"type": "string", "sensitive": True, "depth": 1}),
        ("api_key", {"type": "string", "sensitive": True}),
    ],
)
def test_inputs_are_described_in_words_for_the_api_and_the_cli(path, expected):
    described = {item["path"]: item for item in describe_inputs(SCHEMA)}
    assert {key: described[path][key] for key in expected} == expected
