"""A redraw fills the defaults of the fields it opens: a condition that now holds, a variant just chosen, a
dynamic dependency's branch (issue 12). Fields already drawn keep what the developer left in them, blank or
unticked included."""

import copy

import pytest

from bundles.forms import parse_post
from tests.bundles.formpost import browser_post, read_form

from .test_views import HX, page_form, url

CONDITIONAL = {
    "type": "object",
    "properties": {"tier": {"enum": ["basic", "pro"], "default": "basic"}},
    "if": {"properties": {"tier": {"const": "pro"}}, "required": ["tier"]},
    "then": {
        "properties": {
            "replicas": {"type": "integer", "default": 2},
            "zone": {"type": "string", "default": "a"},
            "backup": {"type": "boolean", "default": True},
            "extra": {"type": "object", "properties": {"n": {"type": "integer", "default": 5}}},
        }
    },
}
VARIANTS = {
    "type": "object",
    "properties": {
        "size": {
            "oneOf": [
                {"title": "By disk", "type": "object", "properties": {"gb": {"type": "integer", "default": 20}}},
                {"title": "By count", "type": "object", "properties": {"count": {"type": "integer", "default": 3}}},
            ]
        }
    },
    "required": ["size"],
}
DYNAMIC = {
    "type": "object",
    "properties": {"delivery": {"enum": ["standard", "fifo"], "default": "standard"}},
    "dependencies": {
        "delivery": {
            "oneOf": [
                {"properties": {"delivery": {"const": "standard"}}},
                {
                    "properties": {
                        "delivery": {"const": "fifo"},
                        "dedup_window_s": {"type": "integer", "default": 300},
                    }
                },
            ]
        }
    },
}


def test_a_condition_that_now_holds_opens_its_fields_with_their_defaults():
    data = browser_post(CONDITIONAL, {}, {"tier": "basic"})
    data["param/tier"] = "pro"
    assert parse_post(CONDITIONAL, data, fill_defaults=True) == {
        "tier": "pro",
        "replicas": 2,
        "zone": "a",
        "backup": True,
        "extra": {"n": 5},
    }
    submitted = parse_post(CONDITIONAL, data)  # a submit fills no default the developer has not seen
    assert "replicas" not in submitted and "zone" not in submitted and "extra" not in submitted


def test_fields_already_drawn_keep_what_was_left_in_them():
    data = browser_post(CONDITIONAL, {}, {"tier": "pro", "replicas": 2, "zone": "a", "backup": True})
    data["param/zone"] = ""
    data.pop("param/backup")  # unticked
    assert parse_post(CONDITIONAL, data, fill_defaults=True) == {"tier": "pro", "replicas": 2, "backup": False}


def test_a_variant_just_chosen_starts_from_its_defaults():
    data = browser_post(VARIANTS, {}, {"size": {"gb": 50}})
    data["_variant/size"] = "1"
    assert parse_post(VARIANTS, data, fill_defaults=True) == {"size": {"count": 3}}
    data["_variant/size"] = "0"
    assert parse_post(VARIANTS, data, fill_defaults=True) == {"size": {"gb": 50}}  # drawn: kept


def test_a_dynamic_dependency_branch_starts_from_its_defaults():
    data = browser_post(DYNAMIC, {}, {"delivery": "standard"})
    data["param/delivery"] = "fifo"
    assert parse_post(DYNAMIC, data, fill_defaults=True) == {"delivery": "fifo", "dedup_window_s": 300}


@pytest.mark.django_db
def test_the_form_redraw_shows_the_defaults_of_what_it_opens(dev_client, catalog, proto_env):
    tour = catalog["form-tour"]
    schema = copy.deepcopy(tour.params_schema)
    schema["properties"]["auth"]["oneOf"][1]["properties"]["token_ttl_hours"]["default"] = 24
    schema["then"]["properties"]["standby_zone"]["default"] = "zone-b"
    tour.params_schema = schema
    tour.save()
    data, _ = page_form(dev_client, tour)
    data["_variant/auth"] = "1"
    data["param/high_availability"] = "on"
    redrawn, _ = read_form(dev_client.post(url(tour, "refresh"), data, **HX).content.decode())
    assert redrawn["param/auth/token_ttl_hours"] == "24"
    assert redrawn["param/standby_zone"] == "zone-b"
