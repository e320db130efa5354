"""History and events are evidence: nothing edits or deletes them, in the admin, the API or SQL."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from simple_history.models import registered_models

from audit.models import AuditEvent
from audit.services import audit_event_record
from deployments.models import Deployment
from portal.models import Team

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")

# Every history table simple-history knows of: a newly tracked model cannot ship without its trigger.
HISTORY_TABLES = sorted(model.history.model._meta.db_table for model in registered_models.values())


def raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def recorded(db, dev, proto_env, catalog):
    deployment = Deployment.objects.create(
        environment=proto_env, name="evidence", bundle_version=catalog["echo"], params={"message": "x"}
    )
    event = audit_event_record(event_type="run.requested", actor=dev, target=deployment, data={"run": 1})
    return deployment, event


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        'UPDATE deployments_historicaldeployment SET params = \'{"message": "forged"}\'',
        "UPDATE deployments_historicaldeployment SET history_change_reason = 'nothing to see'",
        "DELETE FROM deployments_historicaldeployment",
        "UPDATE audit_auditevent SET actor_name = 'someone else'",
        "DELETE FROM audit_auditevent",
    ],
)
def test_raw_sql_cannot_rewrite_or_erase_the_record(recorded, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        raw(sql)
    deployment, event = recorded
    assert deployment.history.get().params == {"message": "x"}
    event.refresh_from_db()
    assert event.actor_name == "dev"


def test_every_tracked_model_is_on_the_list():
    assert {"deployments_historicalpolicy", "deployments_historicaldeployment", "portal_historicalmembership"} <= set(
        HISTORY_TABLES
    )


@pytest.mark.django_db
@pytest.mark.parametrize("table", HISTORY_TABLES)
def test_every_history_table_has_the_trigger(recorded, table):
    with pytest.raises(DatabaseError, match="append-only"):
        raw(f"DELETE FROM {table} WHERE history_id IN (SELECT history_id FROM {table} LIMIT 1)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = %s", [f"{table}_append_only"])
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
def test_a_user_can_still_be_deleted_and_the_record_keeps_their_name(recorded, client, dev):
    _deployment, event = recorded
    client.force_login(dev)
    team = Team.objects.get(slug="payments")
    team.description = "edited by dev"
    team._history_user = dev
    team.save()
    get_user_model().objects.get(username="dev").delete()  # SET_NULL on actor and history_user
    event.refresh_from_db()
    assert event.actor_id is None and event.actor_name == "dev"
    assert team.history.order_by("-history_id").first().history_user is None
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE audit_auditevent SET actor_id = NULL, actor_name = 'x'")


@pytest.mark.django_db(transaction=True)
def test_flush_still_empties_the_tables(recorded):
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    assert not Deployment.history.exists()


@pytest.mark.django_db
def test_the_admin_shows_history_but_does_not_revert_it(client, ops, recorded):
    deployment, event = recorded
    ops.is_superuser = True
    ops.save()
    client.force_login(ops)
    row = deployment.history.get()
    url = reverse("admin:deployments_deployment_simple_history", args=[deployment.pk, row.history_id])
    assert client.post(url, {}).status_code == 403
    assert client.get(reverse("admin:deployments_deployment_history", args=[deployment.pk])).status_code == 200
    assert client.post(reverse("admin:audit_auditevent_change", args=[event.pk]), {}).status_code == 403
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert not any(model._meta.model_name.startswith("historical") for model in admin.site._registry)


@pytest.mark.django_db
def test_the_api_offers_no_way_to_change_events(client, ops, recorded):
    _, event = recorded
    client.force_login(ops)
    url = f"/api/v1/audit/events/{event.pk}/"
    assert client.get(url).json()["event_type"] == "run.requested"
    for method in (client.put, client.patch, client.delete):
        assert method(url, {}, content_type="application/json").status_code == 405
    assert client.post("/api/v1/audit/events/", {}, content_type="application/json").status_code == 405
