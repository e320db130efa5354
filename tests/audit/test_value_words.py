"""Values in words people read, JSON style, never Python's (issue 19: one formatter for values)."""

from audit.selectors.estate import params_summary
from deployments.services import changed_immutables


def test_the_estate_summary_writes_values_json_style():
    summary = params_summary({"a": True, "b": None, "c": "orders", "d": 1.5})
    assert summary == "a=true, b=null, c=orders, d=1.5"
    assert "True" not in summary and "None" not in summary


def test_an_immutable_value_is_named_as_the_form_shows_it():
    schema = {
        "type": "object",
        "properties": {
            "engine": {
                "title": "Engine",
                "enum": ["pg", "my"],
                "x-enum-titles": ["PostgreSQL", "MySQL"],
                "x-immutable": True,
            },
            "encrypted": {"title": "Encrypted", "type": "boolean", "x-immutable": True},
        },
    }
    errors = changed_immutables(schema, {"engine": "pg", "encrypted": True}, {"engine": "my", "encrypted": False})
    assert "(it is Yes)" in errors["/encrypted"][0]
    assert "(it is PostgreSQL)" in errors["/engine"][0]
    assert "'pg'" not in errors["/engine"][0] and "True" not in errors["/encrypted"][0]
