from bundles.schema import check_params_schema, param_errors

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z]+$"},
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
        "storage": {
            "type": "object",
            "required": ["encrypted"],
            "properties": {"encrypted": {"type": "boolean"}, "gb": {"type": "integer", "exclusiveMinimum": 0}},
        },
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
    },
}


def test_errors_are_keyed_by_the_json_pointer_of_their_field():
    errors = param_errors(
        SCHEMA, {"name": "UPPER", "size": 11, "storage": {"gb": 0}, "tags": ["ok", "toolong"], "extra": 1}
    )
    assert errors == {
        "/name": ["Must match the pattern ^[a-z]+$."],
        "/size": ["Must be at most 10."],
        "/storage/encrypted": ["This field is required."],
        "/storage/gb": ["Must be greater than 0."],
        "/tags/1": ["Must be at most 3 characters long."],
        "/extra": ["Unknown field 'extra': this bundle does not declare it."],
    }


def test_a_missing_required_field_points_at_the_field_not_its_parent():
    assert param_errors(SCHEMA, {}) == {"/name": ["This field is required."]}


def test_valid_params_have_no_errors():
    assert param_errors(SCHEMA, {"name": "ok", "size": 3, "storage": {"encrypted": True}}) == {}


def test_a_schemas_own_draft_is_honoured():
    draft7 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "definitions": {"size": {"type": "integer", "maximum": 4}},
        "properties": {"size": {"$ref": "#/definitions/size"}},
        "dependencies": {"size": ["reason"]},
    }
    assert check_params_schema(draft7) == []
    assert param_errors(draft7, {"size": 9}) == {
        "/size": ["Must be at most 4."],
        "/reason": ["Required when 'size' is set."],
    }


def test_remote_references_are_refused_with_their_place():
    problems = check_params_schema({"type": "object", "properties": {"x": {"$ref": "https://example.com/schema.json"}}})
    assert problems == [
        "/properties/x/$ref: remote reference 'https://example.com/schema.json' is not allowed; "
        "a bundle's schema must be self-contained."
    ]


def test_an_invalid_schema_is_reported_at_its_pointer():
    problems = check_params_schema({"type": "object", "properties": {"x": {"type": "strnig"}}})
    assert problems and problems[0].startswith("/properties/x/type: invalid JSON Schema")


def test_a_pattern_error_uses_the_authors_words_when_given():
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}}
    assert param_errors(schema, {"name": "A"}) == {"/name": ["Must match the pattern ^[a-z]+$."]}
    for words in (
        {"x-pattern-message": "Lower-case letters only."},
        {"message": {"pattern": "Lower-case letters only."}},
    ):
        schema["properties"]["name"].update(words)
        assert param_errors(schema, {"name": "A"}) == {"/name": ["Lower-case letters only."]}
        for key in words:
            del schema["properties"]["name"][key]


def test_one_message_per_problem_per_field():
    schema = {"type": "object", "required": ["a"], "allOf": [{"required": ["a"]}], "properties": {"a": {}}}
    assert param_errors(schema, {}) == {"/a": ["This field is required."]}


def test_the_dialect_is_read_from_the_keywords_when_dollar_schema_is_missing():
    from bundles.schema import validator_class

    assert validator_class({"dependencies": {"a": ["b"]}}).__name__ == "Draft7Validator"
    assert validator_class({"properties": {"t": {"items": [{}]}}}).__name__ == "Draft7Validator"
    assert (
        validator_class({"properties": {"n": {"maximum": 1, "exclusiveMaximum": True}}}).__name__ == "Draft4Validator"
    )
    assert validator_class({"properties": {"dependencies": {"type": "string"}}}).__name__ == "Draft202012Validator"
    # draft-07 dependencies are enforced, not silently ignored
    schema = {"type": "object", "dependencies": {"a": ["b"]}, "properties": {"a": {}, "b": {}}}
    assert param_errors(schema, {"a": 1}) == {"/b": ["Required when 'a' is set."]}
