"""Issue 11, item 5: a secret is masked in what the engine prints however the output writes it."""

import json

from deployments.runs.execution import MASK, Redactor


def test_a_secret_with_quotes_backslashes_or_non_ascii_is_masked_in_json_lines_and_structures():
    secret = 'p"a\\ss\u00e9\u2603'
    redactor = Redactor([secret])
    line = json.dumps({"@message": f"value: {secret}", "diagnostic": {"detail": secret}})
    assert secret not in redactor.text(line)
    assert json.dumps(secret)[1:-1] not in redactor.text(line)
    assert json.dumps(secret, ensure_ascii=False)[1:-1] not in redactor.text(line)
    plan = {"variables": {"password": {"value": secret}}, secret: [1, {"x": f"<{secret}>"}]}
    redacted = redactor.obj(plan)
    assert secret not in json.dumps(redacted, ensure_ascii=False) and MASK in json.dumps(redacted)


def test_a_sensitive_number_is_masked_and_short_values_are_left_alone():
    redactor = Redactor([31337, "abc"])
    assert redactor.obj({"port": 31337, "count": 3, "n": "abc"}) == {"port": MASK, "count": 3, "n": "abc"}
    assert redactor.text("listening on 31337") == f"listening on {MASK}"
