"""Key-by-key parameter diffs: nested keys, added and removed keys, array items, types."""

from audit.diff import Change, diff_params, summarize


def test_identical_documents_have_no_changes():
    doc = {"a": 1, "b": {"c": [1, {"d": None}]}}
    assert diff_params(doc, {"a": 1, "b": {"c": [1, {"d": None}]}}) == []


def test_it_reports_a_changed_top_level_key():
    assert diff_params({"size": 1, "name": "x"}, {"size": 3, "name": "x"}) == [Change("size", "changed", 1, 3)]


def test_it_reports_nested_keys_by_path():
    old = {"storage": {"size_gb": 20, "encryption": {"enabled": False, "kms": "k1"}}}
    new = {"storage": {"size_gb": 40, "encryption": {"enabled": True, "kms": "k1"}}}
    assert diff_params(old, new) == [
        Change("storage.size_gb", "changed", 20, 40),
        Change("storage.encryption.enabled", "changed", False, True),
    ]


def test_it_reports_added_and_removed_keys_with_their_values():
    old = {"keep": 1, "gone": {"x": 1}, "tags": {"env": "dev"}}
    new = {"keep": 1, "tags": {"env": "dev", "team": "payments"}, "fresh": [1]}
    assert diff_params(old, new) == [
        Change("gone", "removed", old={"x": 1}),
        Change("tags.team", "added", new="payments"),
        Change("fresh", "added", new=[1]),
    ]


def test_it_diffs_array_items_by_index_and_reports_extra_items():
    assert diff_params({"zones": ["a", "b", "c"]}, {"zones": ["a", "x"]}) == [
        Change("zones[1]", "changed", "b", "x"),
        Change("zones[2]", "removed", old="c"),
    ]
    assert diff_params({"zones": []}, {"zones": ["a"]}) == [Change("zones[0]", "added", new="a")]


def test_it_descends_into_objects_inside_arrays():
    old = {"rules": [{"port": 80, "cidr": "10.0.0.0/8"}, {"port": 443}]}
    new = {"rules": [{"port": 8080, "cidr": "10.0.0.0/8"}, {"port": 443, "cidr": "0.0.0.0/0"}]}
    assert diff_params(old, new) == [
        Change("rules[0].port", "changed", 80, 8080),
        Change("rules[1].cidr", "added", new="0.0.0.0/0"),
    ]


def test_a_change_of_type_is_a_change_even_when_python_calls_them_equal():
    assert diff_params({"n": 1}, {"n": 1.0}) == [Change("n", "changed", 1, 1.0)]
    assert diff_params({"flag": 1}, {"flag": True}) == [Change("flag", "changed", 1, True)]
    assert diff_params({"v": {"a": 1}}, {"v": [1]}) == [Change("v", "changed", {"a": 1}, [1])]


def test_null_is_a_value_not_an_absence():
    assert diff_params({"a": None}, {}) == [Change("a", "removed", old=None)]
    assert diff_params({"a": None}, {"a": 0}) == [Change("a", "changed", None, 0)]


def test_keys_that_are_not_identifiers_are_quoted():
    assert diff_params({"tags": {"cost-center": "a"}}, {"tags": {"cost-center": "b"}}) == [
        Change('tags["cost-center"]', "changed", "a", "b")
    ]


def test_the_summary_reads_like_a_sentence():
    changes = diff_params({"size": 1, "old": 2}, {"size": 3, "zones": ["a"]})
    assert summarize(changes) == 'size 1 → 3; old removed; zones added (["a"])'
