"""History keeps the scope it had: a project that moves to another team, an environment that changes tier,
leave their earlier history filed under the earlier team and tier on every reviewer page and export."""

import csv
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from deployments import services

pytestmark = pytest.mark.django_db


def iso(at):
    return at.isoformat()


@pytest.fixture
def moved(dev, ops, catalog, project, proto_env, other_team):
    """A deployment made in payments' prototype; then its project moves to search and the environment
    becomes staging; then the deployment changes."""
    deployment = services.deployment_create(
        environment=proto_env, name="mover", bundle_version=catalog["echo"], params={"message": "one"}, actor=dev
    )
    before = timezone.now()
    project.team = other_team
    project.save()
    proto_env.tier = "staging"
    proto_env.save()
    services.deployment_update(deployment=deployment, params={"message": "two"}, actor=ops)
    return {"deployment": deployment, "before": before, "start": before - timezone.timedelta(hours=1)}


def test_the_history_rows_keep_the_team_and_tier_they_had(moved):
    rows = moved["deployment"].history.order_by("history_date", "history_id")
    scopes = [(r.scope_team, r.scope_tier, r.history_change_reason or "") for r in rows]
    assert scopes[0][:2] == ("payments", "prototype")
    assert ("search", "prototype", "project checkout moved to team search") in scopes
    assert ("search", "staging", "environment checkout/proto became staging") in scopes
    assert scopes[-1][:2] == ("search", "staging")


def test_as_of_files_the_deployment_where_it_stood_then(client, auditor, moved):
    client.force_login(auditor)
    api = APIClient()
    api.force_authenticate(auditor)

    def names(at, **scope):
        response = api.get("/api/v1/audit/as-of/", {"at": iso(at), **scope})
        assert response.status_code == 200, response.json()
        return [(r["name"], r["team"], r["tier"]) for r in response.json()["results"]]

    assert names(moved["before"], team="payments") == [("mover", "payments", "prototype")]
    assert names(moved["before"], team="search") == []
    assert names(moved["before"], tier="staging") == []
    assert names(timezone.now(), team="search", tier="staging") == [("mover", "search", "staging")]
    assert names(timezone.now(), team="payments") == []
    page = client.get(reverse("audit:as-of"), {"at": iso(moved["before"]), "team": "payments"}).content.decode()
    assert "mover" in page and "prototype" in page.lower()


def test_the_diff_files_each_window_under_the_scope_of_its_end(client, auditor, moved):
    api = APIClient()
    api.force_authenticate(auditor)

    def entries(start, end, **scope):
        response = api.get("/api/v1/audit/diff/", {"from": iso(start), "to": iso(end), **scope})
        assert response.status_code == 200, response.json()
        return [(e["name"], e["kind"], e["team"], e["tier"]) for e in response.json()["results"]]

    assert entries(moved["start"], moved["before"], team="payments") == [("mover", "added", "payments", "prototype")]
    assert entries(moved["start"], moved["before"], team="search") == []
    assert entries(moved["before"], timezone.now(), team="search") == [("mover", "changed", "search", "staging")]
    client.force_login(auditor)
    export = client.get(
        reverse("audit:diff"),
        {"start": iso(moved["start"]), "end": iso(moved["before"]), "tier": "prototype", "format": "json"},
    )
    body = json.loads(b"".join(export.streaming_content))
    assert [(e["name"], e["team"], e["tier"]) for e in body["diff"]] == [("mover", "payments", "prototype")]


def test_the_timeline_and_its_exports_keep_earlier_history_under_the_earlier_team(client, auditor, moved):
    client.force_login(auditor)

    def rows(fmt, **filters):
        response = client.get(reverse("audit:timeline"), {**filters, "format": fmt})
        assert response.status_code == 200
        text = b"".join(response.streaming_content).decode()
        return json.loads(text)["timeline"] if fmt == "json" else list(csv.DictReader(io.StringIO(text)))

    earlier = rows("json", team="payments")
    assert {(r["event_type"], r["team"], r["tier"]) for r in earlier} >= {
        ("deployment.created", "payments", "prototype"),
        ("run.requested", "payments", "prototype"),
    }
    assert all(r["team"] == "payments" for r in earlier)
    later = rows("csv", team="search")
    assert ("deployment.changed", "search", "staging") in {(r["event_type"], r["team"], r["tier"]) for r in later}
    assert not [r for r in later if r["event_type"] == "deployment.created"]
    assert [r["tier"] for r in rows("json", tier="prototype") if r["event_type"] == "deployment.created"] == [
        "prototype"
    ]
