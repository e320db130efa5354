"""The run lifecycle: legal moves, ordering per deployment, the log tail, cancel and requeue."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from deployments import services
from deployments.models import Run, RunLogLine
from deployments.runs import runner
from deployments.runs import services as run_services
from deployments.tasks import requeue_lost_runs

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(dev, catalog, proto_env):
    return services.deployment_create(
        environment=proto_env, name="cache", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )


def test_illegal_transitions_are_refused(deployment):
    run = deployment.runs.get()
    with pytest.raises(ValidationError):
        run.transition("succeeded")  # a queued run has not run
    assert run.transition("running")
    assert run.transition("applying")
    with pytest.raises(ValidationError):
        run.transition("queued")


def test_a_stale_transition_does_not_overwrite_a_concurrent_one(deployment):
    run = deployment.runs.get()
    other = Run.objects.get(pk=run.pk)
    assert run.transition("running")
    assert not other.transition("running")  # the row is no longer queued
    assert other.status == "queued"


def test_runs_of_one_deployment_are_claimed_in_order_one_at_a_time(dev, deployment):
    first = deployment.runs.get()
    second = run_services.run_create(deployment=deployment, action="apply", actor=dev)
    assert runner.claim(second.pk) is None  # the older one goes first
    assert runner.claim(first.pk) is not None
    assert runner.claim(second.pk) is None  # the first is still executing
    first.refresh_from_db()
    first.transition("succeeded")
    assert runner.claim(second.pk) is not None


def test_the_log_tail_returns_lines_after_the_cursor_and_stops_when_the_run_ends(dev_client, deployment):
    run = deployment.runs.get()
    RunLogLine.objects.bulk_create([RunLogLine(run=run, seq=i, text=f"line {i}") for i in (1, 2, 3)])
    url = reverse("deployments:run-logs", args=[run.pk])

    response = dev_client.get(url, {"after": 1}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "line 1" not in body and "line 2" in body and "line 3" in body
    assert "after=3" in body  # the next poll continues from the cursor

    # The run moves on (here: a worker starts it): the page hears of it once, and keeps following.
    run.transition("running")
    moved = dev_client.get(url, {"after": 3, "seen": "queued"}, HTTP_HX_REQUEST="true")
    assert moved.status_code == 200 and moved["HX-Trigger"] == "run-changed"
    assert "seen=running" in moved.content.decode()
    assert "HX-Trigger" not in dev_client.get(url, {"after": 3, "seen": "running"}, HTTP_HX_REQUEST="true")

    run.transition("failed", error="boom")
    response = dev_client.get(url, {"after": 3}, HTTP_HX_REQUEST="true")
    assert response.status_code == 286  # htmx stops polling
    assert response["HX-Trigger"] == "run-finished"
    assert "hx-trigger" not in response.content.decode()

    raw = dev_client.get(url, {"format": "raw"})
    assert raw.content.decode() == "line 1\nline 2\nline 3\n"


def test_the_api_log_page_reports_the_cursor_and_the_end(dev_client, deployment):
    run = deployment.runs.get()
    RunLogLine.objects.bulk_create([RunLogLine(run=run, seq=i, text=f"line {i}") for i in (1, 2)])
    body = dev_client.get(f"/api/v1/runs/{run.pk}/logs/", {"after": 1}).json()
    assert [line["text"] for line in body["lines"]] == ["line 2"]
    assert body["next"] == 2 and body["finished"] is False and body["waiting"] is False
    assert dev_client.get(f"/api/v1/runs/{run.pk}/logs/", {"after": "x"}).status_code == 400

    # A plan waiting for review: nothing more comes until someone acts, and the page says so.
    run.transition("running")
    run.transition("planned")
    body = dev_client.get(f"/api/v1/runs/{run.pk}/logs/", {"after": 2}).json()
    assert body["lines"] == [] and body["finished"] is False and body["waiting"] is True


def test_cancelling_a_queued_run_ends_it_at_once(dev, deployment):
    run = deployment.runs.get()
    run_services.run_cancel(run=run, actor=dev)
    run.refresh_from_db()
    deployment.refresh_from_db()
    assert run.status == "cancelled"
    assert deployment.status == "draft"  # it never applied
    assert runner.claim(run.pk) is None


def test_queued_runs_the_broker_never_delivered_are_sent_again(deployment, monkeypatch):
    sent = []
    monkeypatch.setattr("deployments.tasks.execute_run.apply_async", lambda args, **kw: sent.append(args[0]))
    run = deployment.runs.get()
    Run.objects.filter(pk=run.pk).update(enqueued_at=None, created_at=timezone.now() - timedelta(minutes=5))
    assert requeue_lost_runs() == 1
    assert sent == [run.pk]
    run.refresh_from_db()
    assert run.enqueued_at is not None
    assert requeue_lost_runs() == 0  # recently sent: left alone


def test_a_run_request_is_accepted_even_when_the_broker_is_down(dev, deployment, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr("deployments.tasks.execute_run.apply_async", broker_down)
    assert run_services.run_enqueue(run_id=deployment.runs.get().pk) is False
    assert deployment.runs.get().status == "queued"
