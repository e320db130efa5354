"""What the plan review says about one resource change."""

from deployments.runs.plans import UNKNOWN, attribute_diff


def test_an_attribute_known_only_after_apply_is_said_so_not_shown_as_removed():
    change = {
        "before": {"input": {"port": 5432}, "output": {"port": 5432, "host": "db"}, "id": "x"},
        "after": {"input": {"port": 6432}, "id": "x"},
        "after_unknown": {"output": True},
    }
    rows = {row["path"]: (row["before"], row["after"]) for row in attribute_diff(change)}
    assert rows == {
        "input.port": (5432, 6432),
        "output.host": ("db", UNKNOWN),
        "output.port": (5432, UNKNOWN),
    }


def test_a_new_attribute_known_only_after_apply_has_its_own_row():
    rows = attribute_diff({"before": None, "after": {"input": "a"}, "after_unknown": {"id": True, "output": True}})
    assert {row["path"]: row["after"] for row in rows} == {"id": UNKNOWN, "input": "a", "output": UNKNOWN}
