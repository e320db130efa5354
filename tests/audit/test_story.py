"""The scripted story a reviewer must be able to read back exactly.

dev creates a deployment in the UI; teammate changes it in the UI; dev changes it through the API
door and the run fails; ops restores the teammate's configuration; dev destroys it. A real
worker runs the real engine. Then the timeline, the history page, the diffs, the estate as of
three moments and the exports must tell exactly that story, with the right people and doors.
"""

import csv
import io
import json
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from deployments.models import Deployment, Run
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FIRST = {"message": "hello", "size": 1}
SECOND = {"message": "hello again", "size": 3}
THIRD = {"message": "trip", "size": 3, "labels": {"env": "test", "owner": "payments"}, "zones": ["a", "b"]}


def moment():
    """A timestamp strictly between what happened before and what happens after."""
    time.sleep(0.05)
    at = timezone.now()
    time.sleep(0.05)
    return at


def form(params, **extra):
    data = {f"param/{key}": str(value) for key, value in params.items()}
    data.update(extra)
    return data


def table(response) -> str:
    """The page's results table (not the filter form, not the flash messages)."""
    html = response.content.decode()
    return html[html.find("<tbody>") : html.rfind("</tbody>")] if "<tbody>" in html else ""


def latest_run(deployment):
    return deployment.runs.order_by("-created_at", "-id").first()


@pytest.fixture
def story(celery_worker, client, dev, teammate, ops, catalog, proto_env):
    t0 = moment()
    client.force_login(dev)
    created = client.post(
        reverse("deployments:new", args=["tripwire"]),
        form(FIRST, environment=proto_env.pk, name="wire", reason="first wire"),
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    deployment = Deployment.objects.get(name="wire")
    assert wait_for_run(latest_run(deployment)).status == "succeeded"
    t1 = moment()

    client.force_login(teammate)
    edited = client.post(
        reverse("deployments:edit", args=[deployment.pk]), form(SECOND, reason="bigger", expected_version=1)
    )
    assert edited.status_code == 302, edited.content.decode()[:3000]
    assert wait_for_run(latest_run(deployment)).status == "succeeded"
    ui_entry = deployment.history.order_by("-history_date").filter(params=SECOND).first()

    from portal.models import APIToken

    _, key = APIToken.issue(user=dev, name="story")
    changed = client.post(
        f"/api/v1/deployments/{deployment.pk}/apply/",
        json.dumps({"params": THIRD, "reason": "via api"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert changed.status_code == 202, changed.content.decode()[:2000]
    failed = wait_for_run(Run.objects.get(pk=changed.json()["id"]))
    assert failed.status == "failed"
    assert "Invalid value for variable" in failed.error
    t2 = moment()

    client.force_login(ops)
    restored = client.post(
        reverse("audit:deployment-restore", args=[deployment.pk, ui_entry.history_id]), {"reason": "back to good"}
    )
    assert restored.status_code == 302
    assert wait_for_run(latest_run(deployment)).status == "succeeded"
    t3 = moment()

    client.force_login(dev)
    destroyed = client.post(reverse("deployments:destroy", args=[deployment.pk]), {"confirm": "wire", "reason": "done"})
    assert destroyed.status_code == 302
    assert wait_for_run(latest_run(deployment)).status == "succeeded"
    t4 = moment()
    deployment.refresh_from_db()
    assert deployment.status == "destroyed"
    return {"deployment": deployment, "times": (t0, t1, t2, t3, t4), "client": client}


def as_reviewer(story, auditor):
    client = story["client"]
    client.force_login(auditor)
    return client


def iso(at):
    return at.isoformat()


def test_the_timeline_tells_the_story_in_order(story, auditor):
    client = as_reviewer(story, auditor)
    t0, *_, t4 = story["times"]
    response = client.get(reverse("audit:timeline"), {"start": iso(t0), "end": iso(t4), "format": "json"})
    assert response.status_code == 200
    body = json.loads(b"".join(response.streaming_content))
    rows = [(e["event_type"], e["actor"], e["channel"]) for e in reversed(body["timeline"])]
    assert rows == [
        ("deployment.created", "dev", "ui"),
        ("run.requested", "dev", "ui"),
        ("run.applied", "system", "system"),
        ("deployment.changed", "teammate", "ui"),
        ("run.requested", "teammate", "ui"),
        ("run.applied", "system", "system"),
        ("deployment.changed", "dev", "api"),
        ("run.requested", "dev", "api"),
        ("run.failed", "system", "system"),
        ("deployment.changed", "ops", "restore"),
        ("run.requested", "ops", "restore"),
        ("deployment.restored", "ops", "restore"),
        ("run.applied", "system", "system"),
        ("deployment.changed", "dev", "ui"),
        ("run.requested", "dev", "ui"),
        ("run.destroyed", "system", "system"),
    ]
    # UI requests carry the request id into both the history row and the event.
    created, requested = body["timeline"][-1], body["timeline"][-2]
    assert created["request_id"] and created["request_id"] == requested["request_id"]

    page = table(client.get(reverse("audit:timeline"), {"start": iso(t0), "end": iso(t4), "actor": "ops"}))
    assert "deployment.restored" in page and "run.failed" not in page
    failed_only = table(client.get(reverse("audit:timeline"), {"event_type": "run.failed"}))
    assert "Invalid value for variable" in failed_only


def test_the_history_page_shows_every_version_with_its_diff(story, auditor):
    client = as_reviewer(story, auditor)
    deployment = story["deployment"]
    data = client.get(reverse("deployment-history", args=[deployment.pk])).json()
    config = [s for s in data if s["kind"] in ("created", "configuration")]
    assert [(s["actor"], s["channel"], s["run_status"]) for s in reversed(config)] == [
        ("dev", "ui", "succeeded"),
        ("teammate", "ui", "succeeded"),
        ("dev", "api", "failed"),
        ("ops", "restore", "succeeded"),
    ]
    api_change = config[1]
    assert {(c["path"], c["kind"], json.dumps(c["old"]), json.dumps(c["new"])) for c in api_change["changes"]} == {
        ("message", "changed", '"hello again"', '"trip"'),
        ("labels", "added", "null", '{"env": "test", "owner": "payments"}'),
        ("zones", "added", "null", '["a", "b"]'),
    }
    restore = config[0]
    assert {(c["path"], c["kind"]) for c in restore["changes"]} == {
        ("message", "changed"),
        ("labels", "removed"),
        ("zones", "removed"),
    }
    assert restore["params"] == SECOND
    page = client.get(reverse("audit:deployment-history", args=[deployment.pk])).content.decode()
    assert "Restore this configuration" not in page  # reviewers change nothing
    for step in config:  # the basis each run recorded, or a visible "none recorded"
        basis = Run.objects.get(pk=step["run"]).approval_basis
        assert step["approval_basis"] == basis
        assert (basis or "none recorded") in page


def test_the_estate_as_of_three_moments(story, auditor):
    client = as_reviewer(story, auditor)
    t0, t1, t2, _t3, t4 = story["times"]

    def estate(at, **extra):
        return table(client.get(reverse("audit:as-of"), {"at": iso(at), **extra}))

    assert "wire" not in estate(t0)
    at_t1 = estate(t1)
    assert "message=hello, size=1" in at_t1 and "tripwire@1.0.0" in at_t1 and "badge-live" in at_t1
    at_t2 = estate(t2)
    assert "message=trip, size=3" in at_t2 and "badge-failed" in at_t2
    assert "wire" not in estate(t4)
    assert "badge-destroyed" in estate(t4, include_destroyed="on")
    assert "wire" not in estate(t2, tier="production")


def test_the_diffs_between_moments(story, auditor):
    client = as_reviewer(story, auditor)
    t0, t1, _t2, t3, t4 = story["times"]

    def diff(start, end):
        return client.get("/api/v1/audit/diff/", {"from": iso(start), "to": iso(end)}).json()

    added = diff(t0, t1)
    first_run = Run.objects.filter(deployment=story["deployment"]).order_by("created_at").first()
    assert added["counts"] == {
        "added": 1,
        "removed": 0,
        "changed": 0,
        "transient": 0,
        "keys_changed": 2,
        "without_approval": 0 if first_run.approval_basis else 1,
    }
    assert [r["requested_by"] for r in added["results"][0]["runs"]] == ["dev"]

    changed = diff(t1, t3)
    assert changed["counts"]["changed"] == 1 and changed["counts"]["added"] == 0
    entry = changed["results"][0]
    assert {(c["path"], c["old"], c["new"]) for c in entry["changes"]} == {
        ("message", "hello", "hello again"),
        ("size", 1, 3),
    }
    assert [(r["requested_by"], r["channel"], r["status"]) for r in entry["runs"]] == [
        ("teammate", "ui", "succeeded"),
        ("dev", "api", "failed"),
        ("ops", "restore", "succeeded"),
    ]
    unapproved = any(r["status"] == "succeeded" and not r["approval_basis"] for r in entry["runs"])
    assert entry["applied_without_approval"] is unapproved
    assert [r["approval_basis"] for r in entry["runs"]] == [
        Run.objects.get(pk=r["id"]).approval_basis for r in entry["runs"]
    ]

    removed = diff(t3, t4)
    assert removed["counts"]["removed"] == 1 and removed["results"][0]["new_status"] == "destroyed"
    # Created and destroyed inside the window: no net difference, but listed as evidence, with every run.
    came_and_went = diff(t0, t4)
    assert came_and_went["count"] == 1 and came_and_went["counts"]["transient"] == 1
    assert came_and_went["counts"]["added"] == came_and_went["counts"]["removed"] == 0
    entry = came_and_went["results"][0]
    assert entry["kind"] == "transient" and entry["new_status"] == "destroyed"
    assert len(entry["runs"]) == Run.objects.filter(deployment=story["deployment"]).count()
    page = client.get(reverse("audit:diff"), {"start": iso(t0), "end": iso(t4)}).content.decode()
    assert "1 created and destroyed" in page and ">created and destroyed</span>" in page

    page = client.get(reverse("audit:diff"), {"start": iso(t1), "end": iso(t3)}).content.decode()
    assert "hello again" in page
    assert ("no recorded approval" in page) is unapproved


def test_the_evidence_exports(story, auditor):
    client = as_reviewer(story, auditor)
    t0, t1, _t2, t3, t4 = story["times"]
    response = client.get(reverse("audit:timeline"), {"start": iso(t0), "end": iso(t4), "format": "csv"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 16
    assert [(r["event_type"], r["actor"], r["channel"]) for r in rows[:3]] == [
        ("run.destroyed", "system", "system"),
        ("run.requested", "dev", "ui"),
        ("deployment.changed", "dev", "ui"),
    ]
    response = client.get(reverse("audit:diff"), {"start": iso(t1), "end": iso(t3), "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {(r["path"], r["old"], r["new"]) for r in rows} == {("message", "hello", "hello again"), ("size", "1", "3")}
    runs = Run.objects.filter(deployment=story["deployment"], created_at__gt=t1, created_at__lte=t3)
    unapproved = any(r.status == "succeeded" and not r.approval_basis for r in runs)
    assert all(r["applied_without_approval"] == str(unapproved) for r in rows)
    assert "ops via restore" in rows[0]["runs"]

    events = client.get("/api/v1/audit/events/", {"deployment": str(story["deployment"].pk), "channel": "restore"})
    assert [e["event_type"] for e in events.json()["results"]] == ["deployment.restored", "run.requested"]
    assert AuditEvent.objects.filter(event_type="deployment.restored", actor_name="ops").count() == 1
