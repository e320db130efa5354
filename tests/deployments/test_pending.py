"""Pending is pending: a plan waiting for ops is not labelled approved, its values are not shown as the
running configuration, and the history says the plan changed nothing yet (issue 19, logic problem 5)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from deployments import services
from deployments.choices import DeploymentStatus, RunStatus

from .test_pipeline import FakeEngine, deploy, execute, fake, plan_json, version  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(fake, version, dev, prod_env):  # noqa: F811
    """A live production deployment whose change of size plans a replace: the plan waits for ops."""
    deployment = deploy(prod_env, version, dev)
    assert execute(deployment).status == RunStatus.SUCCEEDED
    FakeEngine.plan = plan_json("delete+create")
    services.deployment_update(deployment=deployment, params={"size": "huge"}, actor=dev, reason="more room")
    run = execute(deployment)
    assert run.status == RunStatus.AWAITING_APPROVAL
    return deployment, run


def test_the_run_page_says_pending_not_approved(waiting, dev_client):
    _deployment, run = waiting
    page = dev_client.get(reverse("deployments:run", args=[run.pk])).content.decode()
    assert "Basis: Approved by policy" not in page
    assert "What the plan did" not in page
    assert "The plan waiting for approval" in page
    assert "Nothing in this plan has been applied yet" in page
    assert "platform ops must approve this plan" in page


def test_the_deployment_page_shows_running_and_desired_apart(waiting, dev_client):
    deployment, _run = waiting
    page = dev_client.get(deployment.get_absolute_url()).content.decode()
    table = page[page.index('<table class="table compare">') :]
    table = table[: table.index("</table>")]
    assert "<td>s</td>" in table, table  # the running value is the applied one
    assert table.index("<td>s</td>") < table.index("huge")  # then the desired one
    assert "pending" in table
    assert "change pending" in page


def test_a_settled_deployment_shows_one_configuration(fake, version, dev, dev_client, prod_env):  # noqa: F811
    deployment = deploy(prod_env, version, dev)
    execute(deployment)
    page = dev_client.get(deployment.get_absolute_url()).content.decode()
    assert 'class="table compare"' not in page
    assert "Running since run" in page


def test_the_history_says_the_plan_changed_nothing_yet(waiting):
    deployment, run = waiting
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.LIVE  # still what ran before
    note = deployment.history.order_by("-history_date", "-history_id").first().history_change_reason
    assert f"run #{run.pk}" in note and "waits for platform ops" in note and "nothing applied yet" in note
