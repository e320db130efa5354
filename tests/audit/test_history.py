"""Change reasons: what each history row says about its channel, actor, request and basis."""

import json

import pytest
from django.urls import reverse

from audit.context import bound
from audit.history import MAX_LENGTH, ChangeReason, change_reason, encode_reason, parse_change_reason
from portal.models import Team


def test_a_reason_round_trips_through_compact_json():
    text = change_reason(channel="api", basis="policy:prod@3", request_id="abc123", note="bigger disk")
    assert json.loads(text) == {"c": "api", "r": "abc123", "b": "policy:prod@3", "n": "bigger disk"}
    assert parse_change_reason(text) == ChangeReason(
        channel="api", request_id="abc123", basis="policy:prod@3", note="bigger disk"
    )


def test_it_always_fits_the_column_and_keeps_channel_actor_and_request():
    reason = ChangeReason(channel="restore", actor="a" * 60, request_id="r" * 64, basis="b" * 80, note="n" * 5000)
    text = encode_reason(reason)
    assert len(text) <= MAX_LENGTH
    parsed = parse_change_reason(text)
    assert parsed.channel == "restore" and parsed.actor.startswith("a" * 30) and parsed.request_id.startswith("r" * 16)
    usual = encode_reason(ChangeReason(channel="restore", actor="a" * 30, request_id="r" * 16, note="n" * 5000))
    assert parse_change_reason(usual).actor == "a" * 30 and parse_change_reason(usual).request_id == "r" * 16


def test_old_free_text_reasons_still_read_as_the_note():
    assert parse_change_reason("changed via ui: because") == ChangeReason(note="changed via ui: because")
    assert parse_change_reason(None) == ChangeReason()
    assert parse_change_reason("{not json") == ChangeReason(note="{not json")


def test_the_current_request_supplies_the_request_id_and_channel():
    with bound(request_id="req-1234", channel="ui"):
        assert parse_change_reason(change_reason()) == ChangeReason(channel="ui", request_id="req-1234")
    assert parse_change_reason(change_reason()).channel == "system"


@pytest.mark.django_db
def test_rows_saved_without_a_reason_get_the_context_one():
    team = Team.objects.create(slug="core", name="Core")
    assert parse_change_reason(team.history.get().history_change_reason).channel == "system"
    with bound(request_id="req-5678", channel="admin"):
        team.name = "Core platform"
        team._change_reason = "renamed"
        team.save()
    latest = parse_change_reason(team.history.order_by("-history_id").first().history_change_reason)
    assert latest == ChangeReason(channel="admin", request_id="req-5678", note="renamed")


@pytest.mark.django_db
def test_admin_edits_record_the_admin_channel_the_user_and_the_request_id(client, ops):
    team = Team.objects.create(slug="core", name="Core")
    client.force_login(ops)
    ops.is_superuser = True
    ops.save()
    response = client.post(
        reverse("admin:portal_team_change", args=[team.pk]),
        {
            "slug": "core",
            "name": "Core renamed",
            "description": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
        HTTP_X_REQUEST_ID="trace-from-proxy-1",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["X-Request-ID"] == "trace-from-proxy-1"
    row = team.history.order_by("-history_id").first()
    assert row.name == "Core renamed"
    assert parse_change_reason(row.history_change_reason) == ChangeReason(
        channel="admin", actor="ops", request_id="trace-from-proxy-1"
    )


@pytest.mark.django_db
def test_every_response_carries_a_request_id_and_odd_incoming_ids_are_replaced(client):
    ok = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="abc-123-def")
    assert ok["X-Request-ID"] == "abc-123-def"
    replaced = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="<script>")
    assert replaced["X-Request-ID"] != "<script>" and len(replaced["X-Request-ID"]) == 16


def test_a_developers_whole_reason_is_kept_in_the_history(dev, catalog, proto_env):
    from deployments import services

    why = "Black Friday: " + "the checkout team expects four times the usual traffic. " * 8
    assert len(why) > 400
    deployment = services.deployment_create(
        environment=proto_env,
        name="peak",
        bundle_version=catalog["echo"],
        params={"message": "hi"},
        actor=dev,
        reason=why,
    )
    row = deployment.history.latest()
    assert parse_change_reason(row.history_change_reason).note == why
    assert parse_change_reason(row.history_change_reason).actor == "dev"
