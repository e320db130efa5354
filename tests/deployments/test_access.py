"""Developers see their own team's deployments only; reviewers read without changing."""

import pytest
from django.urls import reverse

from deployments import services
from deployments.models import Deployment
from portal.models import APIToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(dev, catalog, proto_env):
    # No broker round trip needed: these tests only read; the run stays queued.
    return services.deployment_create(
        environment=proto_env, name="cache", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )


def urls_for(deployment):
    run = deployment.runs.get()
    return [
        deployment.get_absolute_url(),
        reverse("deployments:edit", args=[deployment.pk]),
        reverse("deployments:destroy", args=[deployment.pk]),
        run.get_absolute_url(),
        reverse("deployments:run-logs", args=[run.pk]),
        f"/api/v1/deployments/{deployment.pk}/",
        f"/api/v1/runs/{run.pk}/",
        f"/api/v1/runs/{run.pk}/logs/",
    ]


def test_another_teams_deployment_is_a_404_everywhere(client, outsider, deployment):
    client.force_login(outsider)
    for url in urls_for(deployment):
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("deployments:list")).content.decode().count("cache") == 0
    assert client.get("/api/v1/deployments/").json()["count"] == 0


def test_a_teammate_can_see_and_change_it(client, teammate, deployment):
    client.force_login(teammate)
    for url in urls_for(deployment):
        assert client.get(url).status_code == 200, url


def test_an_auditor_reads_everything_and_changes_nothing(client, auditor, deployment):
    client.force_login(auditor)
    assert client.get(deployment.get_absolute_url()).status_code == 200
    assert client.get(reverse("deployments:edit", args=[deployment.pk])).status_code == 403
    assert client.get(reverse("deployments:destroy", args=[deployment.pk])).status_code == 403
    run = deployment.runs.get()
    assert client.post(reverse("deployments:run-cancel", args=[run.pk])).status_code == 403
    response = client.post(
        "/api/v1/deployments/",
        {"environment": deployment.environment_id, "name": "x", "bundle": "echo", "params": {"message": "m"}},
        content_type="application/json",
    )
    assert response.status_code == 403  # reviewers write nothing, through any door
    assert not Deployment.objects.exclude(pk=deployment.pk).exists()


def test_an_outsider_cannot_deploy_into_another_teams_environment(client, outsider, other_env, catalog, proto_env):
    client.force_login(outsider)
    response = client.post(
        reverse("deployments:new", args=["echo"]),
        {"environment": proto_env.pk, "name": "sneaky", "param/message": "x"},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Deployment.objects.exists()


def test_anonymous_users_are_sent_to_sign_in(client, deployment):
    response = client.get(deployment.get_absolute_url())
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client.get("/api/v1/deployments/").status_code in (401, 403)


def test_a_token_acts_as_its_user_and_a_revoked_one_is_refused(client, dev, outsider, deployment):
    token, key = APIToken.issue(user=dev, name="ci")
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.get(f"/api/v1/deployments/{deployment.pk}/", **auth).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.key_hash != key and key.startswith("slw_")

    _, outsider_key = APIToken.issue(user=outsider, name="ci")
    assert (
        client.get(f"/api/v1/deployments/{deployment.pk}/", HTTP_AUTHORIZATION=f"Token {outsider_key}").status_code
        == 404
    )

    token.revoke()
    response = client.get("/api/v1/deployments/", **auth)
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or revoked token."
