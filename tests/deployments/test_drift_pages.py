"""The deployment page's Live view, a check's page, and revert / accept from the page (no worker: the checks'
findings are written here as a worker would write them; tests/deployments/test_drift.py runs the real thing)."""

import pytest
from django.urls import reverse

from deployments import services
from deployments.drift.models import DriftCheck
from deployments.models import Policy, Run

pytestmark = pytest.mark.django_db

OBSERVED = [
    {
        "address": "sandbox_database.main",
        "type": "sandbox_database",
        "name": "main",
        "id": "db-1234",
        "attributes": {
            "id": "db-1234",
            "storage_gb": 50,
            "size": "small",
            "password": "(sensitive)",
            "tags": {"team": "payments"},
            "endpoint": "<script>alert(1)</script>",
        },
    }
]
DRIFT = [
    {
        "address": "sandbox_database.main",
        "type": "sandbox_database",
        "name": "main",
        "action": "changed",
        "words": "sandbox_database.main was changed outside Slipway: storage_gb.",
        "changes": [{"path": "storage_gb", "before": 20, "after": 50}],
    }
]


@pytest.fixture
def database(dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["postgres"],
        params={"storage_gb": 20},
        actor=dev,
    )
    deployment.runs.update(status="succeeded")
    deployment.status = "drifted"
    deployment.save()
    return deployment


def drifted(deployment, **extra) -> DriftCheck:
    fields = {
        "status": "drifted",
        "resources": DRIFT,
        "observed": OBSERVED,
        "drifted_attributes": " storage_gb sandbox_database.storage_gb ",
    }
    return DriftCheck.objects.create(deployment=deployment, **{**fields, **extra})


def test_the_live_view_says_what_to_do_before_any_check(dev_client, database):
    page = dev_client.get(database.get_absolute_url()).content.decode()
    assert 'id="live"' in page and "No drift check has read this deployment yet" in page
    assert "Check for drift" in page
    assert "every 2s" not in page  # nothing to follow


def test_the_live_view_shows_what_the_cloud_holds_beside_what_was_applied(dev_client, database):
    check = drifted(database)
    page = dev_client.get(database.get_absolute_url()).content.decode()
    assert "Drifted." in page and "sandbox_database.main was changed outside Slipway: storage_gb." in page
    assert 'data-attribute="storage_gb"' in page and 'class="drifted"' in page
    assert '<strong>20</strong> <span class="drift-flag">changed outside Slipway</span>' in page
    assert "Storage: 20 GiB" in page  # the param the attribute is observed for, as the form labels it
    assert "db-1234" in page and "•••••• sensitive" in page
    assert "{&quot;team&quot;: &quot;payments&quot;}" in page  # values read as JSON, not Python
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert reverse("deployments:drift-revert", args=[check.pk]) in page
    assert reverse("deployments:drift-accept", args=[check.pk]) in page and "Storage 20 → 50" in page


def test_a_check_on_its_way_is_followed_and_the_answer_without_one_stops_polling(dev_client, database):
    pending = DriftCheck.objects.create(deployment=database, status="queued", channel="ui")
    live = reverse("deployments:live", args=[database.pk])
    fragment = dev_client.get(live, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in fragment and f"Check #{pending.pk} is queued" in fragment
    assert 'id="dep-status" hx-swap-oob="true"' in fragment  # the status badge follows the check
    DriftCheck.objects.filter(pk=pending.pk).update(status="in_sync", observed=OBSERVED)
    fragment = dev_client.get(live, HTTP_HX_REQUEST="true").content.decode()
    assert "every 2s" not in fragment and "In sync" in fragment


def test_check_for_drift_refuses_a_deployment_never_applied(dev_client, database):
    response = dev_client.post(reverse("deployments:drift-check-now", args=[database.pk]), follow=True)
    assert "has never been applied" in response.content.decode()
    assert not database.drift_checks.exists()


def test_revert_from_the_page_queues_the_apply_and_records_who_and_why(dev_client, dev, database):
    check = drifted(database)
    reason = "x" * 5000
    response = dev_client.post(reverse("deployments:drift-revert", args=[check.pk]), {"reason": reason})
    run = Run.objects.filter(deployment=database).latest("created_at")
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.action == "apply" and run.approval_basis.startswith("approved by policy")
    check.refresh_from_db()
    assert (check.resolution, check.resolved_by_name, check.resolution_run) == ("reverted", "dev", run)
    assert check.resolution_reason == "x" * 1000
    page = dev_client.get(check.get_absolute_url()).content.decode()
    assert "Reverted by dev" in page and f"run #{run.pk}" in page
    # Twice is refused with a sentence, not a second run.
    response = dev_client.post(reverse("deployments:drift-revert", args=[check.pk]), follow=True)
    assert "already reverted" in response.content.decode()
    assert Run.objects.filter(deployment=database, action="apply").count() == 2


def test_accept_outside_the_policy_is_refused_by_the_policy(dev_client, database, proto_env):
    policy = Policy.objects.get(environment=proto_env)
    policy.overlays = {"postgres": {"properties": {"size": {"enum": ["small", "medium"]}}}}
    policy.save()
    check = drifted(
        database, resources=[{**DRIFT[0], "changes": [{"path": "size", "before": "small", "after": "xlarge"}]}]
    )
    response = dev_client.post(reverse("deployments:drift-accept", args=[check.pk]), follow=True)
    assert "policy" in response.content.decode().lower()
    database.refresh_from_db()
    assert database.params.get("size", "small") == "small" and database.version == 1
    check.refresh_from_db()
    assert check.resolution == ""


def test_reviewers_read_drift_and_act_on_nothing(client, auditor, database):
    check = drifted(database)
    client.force_login(auditor)
    page = client.get(database.get_absolute_url()).content.decode()
    assert "Drifted." in page and "Revert</button>" not in page and "Check for drift" not in page
    assert client.post(reverse("deployments:drift-revert", args=[check.pk])).status_code == 403
    assert client.get(check.get_absolute_url()).status_code == 200


def test_an_outsider_does_not_learn_a_check_exists(client, outsider, database):
    check = drifted(database)
    client.force_login(outsider)
    assert client.get(check.get_absolute_url()).status_code == 404
    assert client.get(f"/api/v1/drift-checks/{check.pk}/").status_code == 404


def test_the_overview_lists_what_drifted_for_those_who_can_see_it(dev_client, client, outsider, database):
    check = drifted(database)
    page = dev_client.get("/").content.decode()
    assert 'id="drifted"' in page and f"found by check #{check.pk}" in page
    assert "sandbox_database.main was changed outside Slipway: storage_gb." in page
    client.force_login(outsider)
    assert 'id="drifted"' not in client.get("/").content.decode()


def test_a_check_the_engine_fails_once_is_tried_again_and_one_failing_twice_is_an_error(database, monkeypatch):
    from deployments.drift import services as drift_services
    from deployments.drift.check import CheckFailed, Finding
    from deployments.models import StateVersion
    from portal.crypto import encrypt

    StateVersion.objects.create(
        deployment=database, serial=3, lineage="l", sha256="-", encrypted_state=encrypt(b'{"version": 4}')
    )
    attempts = []

    def flaky(**kwargs):
        attempts.append(kwargs["workdir"])
        if len(attempts) == 1:
            raise CheckFailed("`terraform init` failed (exit 1).\nError: Failed to install provider")
        return Finding()

    monkeypatch.setattr(drift_services, "refresh", flaky)
    monkeypatch.setattr(drift_services, "RETRY_AFTER_SECONDS", 0)
    check = drift_services.drift_check_execute(DriftCheck.objects.create(deployment=database).pk)
    assert check.status == "in_sync" and check.state_serial == 3
    assert len(attempts) == 2 and attempts[0] != attempts[1]  # a fresh directory each time
    database.refresh_from_db()
    assert database.status == "live"  # in sync again

    def broken(**kwargs):
        raise CheckFailed("`terraform plan` failed (exit 1).\nError: the sandbox API cannot be reached")

    monkeypatch.setattr(drift_services, "refresh", broken)
    check = drift_services.drift_check_execute(DriftCheck.objects.create(deployment=database).pk)
    assert check.status == "error" and "cannot be reached" in check.error
    database.refresh_from_db()
    assert database.status == "live"  # an error says nothing about the cloud


def test_the_live_view_reads_the_newest_of_each_kind_past_the_recent_checks(database, django_assert_num_queries):
    """The Live tab's check, pending check and last finished check come from its ten recent checks when they
    are there, and from the database when they are older (or absent)."""
    from datetime import timedelta

    from django.utils import timezone

    from deployments.drift.selectors import RECENT_CHECKS, live_view

    start = timezone.now() - timedelta(hours=1)
    old_sync = drifted(database, status="in_sync", resources=[], created_at=start)
    for n in range(RECENT_CHECKS + 1):
        drifted(database, status="error", resources=[], observed=[], created_at=start + timedelta(minutes=n + 1))
    view = live_view(database)
    assert view.check == old_sync  # older than the ten recent ones
    assert view.pending is None and view.last.status == "error"
    assert len(view.recent) == RECENT_CHECKS

    queued = drifted(database, status="queued", resources=[], created_at=start + timedelta(minutes=30))
    newest_sync = drifted(database, status="drifted", created_at=start + timedelta(minutes=40))
    with django_assert_num_queries(1):  # the recent checks only (it was four queries)
        view = live_view(database)
    assert (view.check, view.pending, view.last) == (newest_sync, queued, newest_sync)
