"""A value left out of a configuration reads as its default, marked as such, never "(not set)" when the
field has a default (compare and promote show it)."""

from bundles.display import absent_value

SCHEMA = {
    "type": "object",
    "properties": {
        "size": {"type": "string", "title": "Size", "enum": ["small", "large"], "default": "small"},
        "backups": {"type": "object", "properties": {"days": {"type": "integer", "default": 7}}},
        "note": {"type": "string", "title": "Note"},
    },
}


def test_a_field_with_a_default_reads_as_its_default():
    assert absent_value(SCHEMA, "/size").endswith("(default)")
    assert "small" in absent_value(SCHEMA, "/size").lower()
    assert absent_value(SCHEMA, "/backups/days") == "7 (default)"


def test_a_field_without_a_default_is_not_set():
    assert absent_value(SCHEMA, "/note") == "(not set)"
    assert absent_value({}, "/anything") == "(not set)"
