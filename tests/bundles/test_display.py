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


def test_variants_conditions_and_listed_titles_read_as_the_form_showed_them():
    from bundles.loader import read_bundle
    from tests.conftest import FIXTURE_BUNDLES

    tour = read_bundle(FIXTURE_BUNDLES / "form-tour").params
    rows = params_rows(
        tour,
        {
            "name": "tour-svc",
            "storage": {"size_gb": 40, "encrypted": True},
            "auth": {"kind": "token", "token_ttl_hours": 12},
            "high_availability": True,
            "standby_zone": "zone-b",
        },
    )
    assert [(r.label, r.value) for r in rows] == [
        ("Service name", "tour-svc"),
        ("Storage \u203a Disk size", "40 GiB"),
        ("Storage \u203a Encrypted", "Yes"),
        ("Authentication", "Bearer token"),
        ("Authentication \u203a Token lifetime", "12 hours"),
        ("High availability", "Yes"),
        ("Standby zone", "zone-b"),
    ]
    listed = {"type": "object", "properties": {"size": {"enum": ["s", "l"], "x-enum-titles": ["Small", "Large"]}}}
    assert [r.value for r in params_rows(listed, {"size": "l"})] == ["Large"]
