"""A preview's whole life on PostgreSQL, Redis, a real worker and the engine: ensured (a fork of the source,
deployed level by level), its owner warned once before the end, then torn down by the periodic task at expiry
(driven with a controlled clock, as beat would call it)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from deployments import services
from deployments.environments.models import EnvironmentRun
from deployments.environments.previews import preview_ensure
from deployments.environments.tasks import expire_previews
from deployments.models import Deployment
from tests.conftest import wait_for_run
from tests.deployments.test_environments_acceptance import finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_expired_preview_is_torn_down_by_the_scheduler_after_one_warning(
    celery_worker, catalog, project, proto_env, dev, settings, monkeypatch
):
    settings.SLIPWAY_PREVIEW_WARN_HOURS = 1
    for name, message in (("notes", "hello"), ("more", "again")):
        deployment = services.deployment_create(
            environment=proto_env, name=name, bundle_version=catalog["echo"], params={"message": message}, actor=dev
        )
        wait_for_run(deployment.runs.get(), timeout=180)
    t0 = timezone.now()
    ensured = preview_ensure(
        source=proto_env, project=project, repository="acme/checkout", pull_request="9", ttl_hours=2, actor=dev, now=t0
    )
    assert finished(ensured.env_run.pk).status == "succeeded"
    preview = ensured.environment
    assert set(Deployment.objects.filter(environment=preview).values_list("status", flat=True)) == {"live"}

    # The periodic task as beat calls it, with the clock moved on.
    monkeypatch.setattr(timezone, "now", lambda: t0 + timedelta(minutes=70))
    assert expire_previews() == (1, 0)
    assert expire_previews() == (0, 0)
    assert [m.to for m in mail.outbox] == [[dev.email]] and "checkout/pr-9" in mail.outbox[0].subject
    monkeypatch.setattr(timezone, "now", lambda: t0 + timedelta(hours=2, minutes=1))
    assert expire_previews() == (0, 1)
    monkeypatch.undo()

    teardown = EnvironmentRun.objects.filter(environment=preview).latest("pk")
    assert (teardown.action, teardown.channel, teardown.requested_by_name) == ("teardown", "system", "system")
    assert AuditEvent.objects.get(event_type="environment.preview_expired").data["environment_run"] == teardown.pk
    assert finished(teardown.pk).status == "succeeded"
    assert set(Deployment.objects.filter(environment=preview).values_list("status", flat=True)) == {"destroyed"}
    assert set(Deployment.objects.filter(environment=proto_env).values_list("status", flat=True)) == {"live"}
    assert AuditEvent.objects.filter(event_type="environment.preview_expiring").count() == 1
