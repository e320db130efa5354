"""The one formatter for raw values (JSON style) and "just now" for times."""

from datetime import timedelta

from django.utils import timezone

from portal.templatetags.values import ago, as_json, as_json_block


def test_values_read_json_style_never_python_style():
    assert as_json(True) == "true" and as_json(None) == "null"
    assert as_json({"max": 5, "on": False}) == '{"max": 5, "on": false}'
    assert as_json(["a"]) == '["a"]'
    assert as_json("plain text") == "plain text"
    assert "True" not in as_json_block({"a": {"b": True}})


def test_a_moment_ago_is_just_now():
    now = timezone.now()
    assert ago(now) == "just now"
    assert ago(now - timedelta(seconds=59)) == "just now"
    assert ago(now - timedelta(minutes=5)) == "5\xa0minutes ago"
    assert ago(None) == ""


def test_no_template_says_zero_minutes_ago():
    """Every "… ago" on a page goes through the ``ago`` filter, so a fresh time reads "just now"."""
    from pathlib import Path

    from django.conf import settings

    roots = [
        Path(settings.BASE_DIR) / "templates",
        Path(settings.BASE_DIR) / "deployments",
        Path(settings.BASE_DIR) / "audit",
    ]
    offenders = [
        str(path)
        for root in roots
        for path in root.rglob("*.html")
        if "|timesince }} ago" in path.read_text() or "|timesince }}</td>" in path.read_text()
    ]
    assert offenders == []


def test_counts_of_one_are_singular(settings):
    from audit.selectors.estate import params_summary
    from portal.throttle import lockout_message

    assert params_summary({"zones": ["a"]}) == "zones=[1 item]"
    assert params_summary({"zones": ["a", "b"]}) == "zones=[2 items]"
    settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS = 60
    assert lockout_message() == "Too many failed sign-ins. Try again in 1 minute."
    settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS = 900
    assert lockout_message() == "Too many failed sign-ins. Try again in 15 minutes."
