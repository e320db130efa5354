"""Issue 11, item 14: the one rule for secrets sent in (deployments.secrets.unmask), wherever they sit."""

import pytest

from deployments import secrets
from portal.errors import ParamsInvalid

PARAMS = {
    "label": "demo",
    "rules": [{"name": "a", "token": "rule-token-one"}, {"name": "b", "token": "rule-token-two"}],
    "auth": {"kind": "token", "token": "variant-token"},
    "env": {"DB_PASSWORD": "map-secret-1", "API/KEY": "map-secret-2"},
    "api_key": "ref-secret-key",
}


@pytest.fixture
def schema(catalog):
    return catalog["vault"].params_schema


@pytest.mark.django_db
def test_masks_mean_unchanged_null_means_removed_and_a_value_replaces(schema):
    masked, blob = secrets.split(schema, PARAMS)
    sent = {
        **masked,
        "api_key": None,  # a $ref'd secret removed
        "env": {**masked["env"], "API/KEY": None, "NEW": "fresh-secret"},  # a map value removed, one added
        "rules": [masked["rules"][0], {"name": "b", "token": None}],  # an array item's secret removed
    }
    got = secrets.unmask(schema, sent, lambda: [blob])
    assert got == {
        "label": "demo",
        "rules": [{"name": "a", "token": "rule-token-one"}, {"name": "b"}],
        "auth": {"kind": "token", "token": "variant-token"},
        "env": {"DB_PASSWORD": "map-secret-1", "NEW": "fresh-secret"},
    }


@pytest.mark.django_db
def test_a_sensitive_array_item_set_to_null_is_removed_from_the_array():
    schema = {
        "type": "object",
        "properties": {"keys": {"type": "array", "items": {"type": "string", "x-sensitive": True}}},
    }
    masked, blob = secrets.split(schema, {"keys": ["key-one-1", "key-two-2", "key-three-3"]})
    sent = {"keys": [None, masked["keys"][1], None]}
    assert secrets.unmask(schema, sent, lambda: [blob]) == {"keys": ["key-two-2"]}


@pytest.mark.django_db
def test_a_mask_that_stands_for_nothing_held_is_refused(schema):
    masked, _ = secrets.split(schema, PARAMS)
    with pytest.raises(ParamsInvalid) as refused:
        secrets.unmask(schema, masked, lambda: ())
    assert "/api_key" in refused.value.errors
