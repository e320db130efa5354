"""Environment-wide actions (deploy-all, teardown) are audit events the reviewers' pages show: the timeline
(filtered by type, exported), the event's page linking the environment and its environment run."""

import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from deployments.choices import RunStatus
from deployments.environments.services import environment_run_drive, environment_run_start
from deployments.models import Run
from tests.deployments.test_environment_runs import done, stack  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_deploy_all_and_teardown_are_on_the_timeline(stack, proto_env, dev, auditor, client):  # noqa: F811
    deploy = environment_run_start(environment=proto_env, action="deploy", actor=dev, reason="release 7")
    for _ in range(3):
        for run in Run.objects.filter(status=RunStatus.QUEUED):
            done(run, RunStatus.FAILED if run.deployment.name == "shop" else RunStatus.SUCCEEDED, "Error: no.")
        environment_run_drive(deploy.pk)
    teardown = environment_run_start(environment=proto_env, action="teardown", actor=dev, confirm="proto")

    client.force_login(auditor)
    page = client.get(reverse("audit:timeline")).content.decode()
    for event_type in ("environment.deploy_requested", "environment.deploy_failed", "environment.teardown_requested"):
        assert event_type in page
    assert f"environment run #{deploy.pk} · level 1: notes, orders-db; level 2: shop; level 3: edge" in page
    assert "Stopped at level 2 of 3: shop failed; 1 deployment in the levels after it not started." in page
    assert '<span class="muted">environment</span> checkout/proto' in page

    only = client.get(reverse("audit:timeline"), {"event_type": "environment.teardown_requested"}).content.decode()
    assert f"environment run #{teardown.pk} ·" in only and f"environment run #{deploy.pk} ·" not in only

    event = AuditEvent.objects.get(event_type="environment.deploy_requested")
    assert (event.actor_name, event.scope_environment, event.scope_tier) == ("dev", "proto", "prototype")
    detail = client.get(reverse("audit:event", args=[event.pk])).content.decode()
    assert reverse("deployments:env-run", args=[deploy.pk]) in detail
    assert reverse("deployments:canvas", args=[proto_env.pk]) in detail
    assert client.get(reverse("deployments:env-run", args=[deploy.pk])).status_code == 200

    exported = client.get(reverse("audit:timeline"), {"format": "json"})
    rows = json.loads(b"".join(exported.streaming_content))
    types = {row["event_type"] for row in rows["timeline"]}
    assert {"environment.deploy_requested", "environment.deploy_failed"} <= types
