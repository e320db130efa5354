"""What each history row records in its audit columns: channel, actor, request, basis, reason and scope."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from portal.context import bound
from portal.history import ChangeReason, change_of, record_change
from portal.models import Team

legacy = importlib.import_module("audit.migrations.0006_history_columns_from_reasons")


def test_old_reasons_read_as_channel_actor_request_basis_and_note():
    text = '{"c":"api","a":"dev","r":"abc123","b":"policy:prod@3","n":"bigger disk"}'
    assert legacy.legacy_reason(text) == ("api", "dev", "abc123", "policy:prod@3", "bigger disk")


def test_old_free_text_reasons_still_read_as_the_note():
    assert legacy.legacy_reason("changed via ui: because") == ("", "", "", "", "changed via ui: because")
    assert legacy.legacy_reason(None) == ("", "", "", "", "")
    assert legacy.legacy_reason("{not json") == ("", "", "", "", "{not json")


@pytest.mark.django_db
def test_the_current_request_supplies_the_request_id_and_channel():
    with bound(request_id="req-1234", channel="ui"):
        team = Team.objects.create(slug="core", name="Core")
    assert change_of(team.history.get()) == ChangeReason(channel="ui", request_id="req-1234")
    team.name = "Core team"
    team.save()
    assert change_of(team.history.order_by("-history_id").first()).channel == "system"


@pytest.mark.django_db
def test_rows_saved_without_a_reason_get_the_context_one():
    team = Team.objects.create(slug="core", name="Core")
    assert change_of(team.history.get()).channel == "system"
    with bound(request_id="req-5678", channel="admin"):
        team.name = "Core platform"
        team._change_reason = "renamed"
        team.save()
    latest = change_of(team.history.order_by("-history_id").first())
    assert latest == ChangeReason(channel="admin", request_id="req-5678", note="renamed")


@pytest.mark.django_db
def test_a_reason_is_used_once_and_a_later_save_records_its_own_context(ops):
    team = Team.objects.create(slug="core", name="Core")
    record_change(team, channel="api", actor=ops, basis="approved by ops", note="renamed for the reorg")
    team.name = "Core platform"
    team.save()
    assert change_of(team.history.order_by("-history_id").first()) == ChangeReason(
        channel="api", actor="ops", basis="approved by ops", note="renamed for the reorg"
    )
    team.description = "the platform"
    team.save()
    assert change_of(team.history.order_by("-history_id").first()) == ChangeReason(channel="system")


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
    assert change_of(row) == ChangeReason(channel="admin", actor="ops", request_id="trace-from-proxy-1")
    assert (row.history_actor, row.scope_team, row.scope_team_id) == ("ops", "core", team.pk)


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
    assert change_of(row).note == why
    assert change_of(row).actor == "dev"
    assert change_of(row).basis.startswith("approved by policy")
    assert (row.scope_team, row.scope_project, row.scope_environment, row.scope_tier) == (
        "payments",
        "checkout",
        "proto",
        "prototype",
    )


def _write_as_before_the_columns(row, reason: str) -> None:
    """Make a history row look as the old code left it: JSON in the reason, empty columns."""
    table = row._meta.db_table
    blank = ", ".join(f"{c} = ''" for c in ("history_channel", "history_actor", "history_request_id", "history_basis"))
    scope = ", ".join(f"{c} = NULL" for c in ("scope_team_id", "scope_project_id", "scope_environment_id"))
    scope += ", " + ", ".join(f"{c} = ''" for c in ("scope_team", "scope_project", "scope_environment", "scope_tier"))
    with legacy.append_only_off(connection.schema_editor(), table), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET history_change_reason = %s, {blank}, {scope} WHERE history_id = %s",
            [reason, row.history_id],
        )


def test_the_data_migration_fills_the_columns_of_older_rows_with_the_scope_they_had_then(dev, catalog, proto_env):
    from deployments import services

    deployment = services.deployment_create(
        environment=proto_env, name="old", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )
    row = deployment.history.get()
    _write_as_before_the_columns(row, '{"c":"api","a":"dev","r":"5f0c9a2e","b":"approved by policy x","n":"first"}')
    proto_env.tier = "staging"  # after the row was written: the row keeps the tier it had then
    proto_env.save()

    legacy.fill_history(apps, connection.schema_editor())

    row.refresh_from_db()
    assert change_of(row) == ChangeReason(
        channel="api", actor="dev", request_id="5f0c9a2e", basis="approved by policy x", note="first"
    )
    assert (row.scope_team, row.scope_project, row.scope_environment, row.scope_tier) == (
        "payments",
        "checkout",
        "proto",
        "prototype",
    )
