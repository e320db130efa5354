from bundles.display import params_rows

SCHEMA = {
    "type": "object",
    "properties": {
        "size": {"type": "string", "title": "Size", "enum": ["s", "l"], "x-enum-titles": {"s": "Small (2 vCPU)"}},
        "ha": {"type": "boolean", "title": "High availability"},
        "disk": {"type": "integer", "title": "Disk", "x-unit": "GiB"},
        "token": {"type": "string", "title": "Token", "x-sensitive": True},
        "storage": {"type": "object", "title": "Storage", "properties": {"encrypted": {"type": "boolean"}}},
        "rules": {
            "type": "array",
            "title": "Rule",
            "items": {"type": "object", "properties": {"port": {"type": "integer"}}},
        },
        "tags": {"type": "array", "title": "Tags", "items": {"type": "string"}},
    },
}


def test_rows_read_like_a_person_would_say_them():
    rows = params_rows(
        SCHEMA,
        {
            "size": "s",
            "ha": True,
            "disk": 20,
            "token": "(sensitive:ab12cd34)",
            "storage": {"encrypted": False},
            "rules": [{"port": 80}, {"port": 443}],
            "tags": ["a", "b"],
            "legacy": 1,
        },
        errors={"/disk": ["Must be at least 50."]},
    )
    assert [(r.label, r.value) for r in rows] == [
        ("Size", "Small (2 vCPU)"),
        ("High availability", "Yes"),
        ("Disk", "20 GiB"),
        ("Token", "••••••"),
        ("Storage \u203a Encrypted", "No"),
        ("Rule 1 \u203a Port", "80"),
        ("Rule 2 \u203a Port", "443"),
        ("Tags", "a, b"),
        ("Legacy", "1"),
    ]
    assert next(r for r in rows if r.pointer == "/disk").errors == ["Must be at least 50."]
    assert next(r for r in rows if r.label == "Token").sensitive
