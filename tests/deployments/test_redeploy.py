"""A destroyed deployment's name is not a dead end (issue 19): reusing it says so and points at the
destroyed one, whose page offers to redeploy it with its last configuration."""

import pytest
from django.urls import reverse

from deployments import services
from deployments.choices import DeploymentStatus, RunAction
from deployments.models import Deployment
from portal.models import APIToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def destroyed(dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["workbench"],
        params={"message": "hi"},
        actor=dev,
    )
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.DESTROYED)
    return Deployment.objects.get(pk=deployment.pk)


def test_reusing_a_destroyed_name_says_so_and_links_to_it(dev_client, dev, destroyed, proto_env):
    response = dev_client.post(
        reverse("deployments:new", args=["workbench"]),
        {"environment": proto_env.pk, "name": "Orders-DB", "param/message": "again"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "was destroyed" in page and "offers to redeploy it" in page
    assert f'<a href="{destroyed.get_absolute_url()}">orders-db</a> was destroyed' in page
    assert Deployment.objects.filter(environment=proto_env).count() == 1

    _, key = APIToken.issue(user=dev, name="t")
    api = dev_client.post(
        "/api/v1/deployments/",
        {"environment": proto_env.pk, "name": "orders-db", "bundle": "workbench", "params": {"message": "x"}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert api.status_code == 400 and "was destroyed" in api.content.decode()


def test_a_destroyed_deployment_is_redeployed_with_its_last_configuration(dev_client, destroyed):
    page = dev_client.get(destroyed.get_absolute_url()).content.decode()
    assert "Redeploy orders-db with its last configuration" in page
    response = dev_client.post(reverse("deployments:redeploy", args=[destroyed.pk]), follow=True)
    assert "Redeploying orders-db with configuration v1" in response.content.decode()
    destroyed.refresh_from_db()
    assert destroyed.status == DeploymentStatus.DEPLOYING
    run = destroyed.runs.order_by("-created_at").first()
    assert run.action == RunAction.APPLY and run.params == {"message": "hi"}
    # Only a destroyed one: a second press refuses, and queues nothing.
    again = dev_client.post(reverse("deployments:redeploy", args=[destroyed.pk]), follow=True)
    assert "is not destroyed" in again.content.decode()
    assert destroyed.runs.count() == 2  # the create's run and the redeploy's


def test_a_reader_who_cannot_change_it_is_offered_no_redeploy(client, auditor, destroyed):
    client.force_login(auditor)
    assert "Redeploy" not in client.get(destroyed.get_absolute_url()).content.decode()
    assert client.post(reverse("deployments:redeploy", args=[destroyed.pk])).status_code in (403, 404)
    destroyed.refresh_from_db()
    assert destroyed.status == DeploymentStatus.DESTROYED
