"""Reviewers read everything and change nothing; developers do not get the estate-wide pages."""

import contextlib
import uuid

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from deployments import services
from deployments.models import Deployment
from portal.models import APIToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(dev, proto_env, catalog, settings):
    settings.CELERY_BROKER_URL = "memory://"  # nothing runs these; the rows are what matter
    return services.deployment_create(
        environment=proto_env, name="looked-at", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )


def write_requests(deployment):
    run = deployment.runs.first()
    entry = deployment.history.first()
    return [
        ("post", reverse("deployments:new", args=["echo"]), {"environment": deployment.environment_id, "name": "x"}),
        ("post", reverse("deployments:edit", args=[deployment.pk]), {"param/message": "changed"}),
        ("post", reverse("deployments:destroy", args=[deployment.pk]), {"confirm": deployment.name}),
        ("post", reverse("deployments:run-cancel", args=[run.pk]), {}),
        ("post", reverse("audit:deployment-restore", args=[deployment.pk, entry.history_id]), {}),
        ("post", "/api/v1/deployments/", {"environment": deployment.environment_id, "name": "x", "bundle": "echo"}),
        ("post", f"/api/v1/deployments/{deployment.pk}/restore/", {"history_id": entry.history_id}),
        ("post", f"/api/v1/runs/{run.pk}/cancel/", {}),
        ("patch", f"/api/v1/deployments/{deployment.pk}/", {"params": {"message": "changed"}}),
        ("delete", f"/api/v1/deployments/{deployment.pk}/", {}),
    ]


def test_a_reviewer_gets_403_on_every_write_endpoint(client, auditor, deployment):
    client.force_login(auditor)
    for method, url, data in write_requests(deployment):
        kwargs = {"content_type": "application/json"} if url.startswith("/api/") else {}
        response = getattr(client, method)(url, data, **kwargs)
        assert response.status_code == 403, (method, url, response.status_code)
    deployment.refresh_from_db()
    assert deployment.params == {"message": "hi"} and deployment.runs.count() == 1


def test_a_reviewer_with_an_api_token_gets_403_on_writes_too(client, auditor, deployment):
    _, key = APIToken.issue(user=auditor, name="evidence")
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    entry = deployment.history.first()
    assert client.get("/api/v1/audit/events/", **auth).status_code == 200
    response = client.post(
        f"/api/v1/deployments/{deployment.pk}/restore/", {"history_id": entry.history_id}, "application/json", **auth
    )
    assert response.status_code == 403
    response = client.post("/api/v1/deployments/", {"name": "x"}, "application/json", **auth)
    assert response.status_code == 403


def admin_urls(model, pk):
    info = model._meta.app_label, model._meta.model_name
    urls = [reverse(f"admin:{info[0]}_{info[1]}_add")]
    for view in ("change", "delete", "history"):
        urls.append(reverse(f"admin:{info[0]}_{info[1]}_{view}", args=[pk]))
    with contextlib.suppress(NoReverseMatch):
        urls.append(reverse(f"admin:{info[0]}_{info[1]}_simple_history", args=[pk, 1]))
    return urls


def test_a_reviewer_gets_403_on_every_admin_change_page(client, auditor, deployment):
    client.force_login(auditor)
    assert auditor.is_staff
    for model in admin.site._registry:
        pk = (
            deployment.pk
            if model is Deployment
            else (uuid.uuid4() if model._meta.pk.get_internal_type() == "UUIDField" else 1)
        )
        for url in admin_urls(model, pk):
            if "/history/" not in url:  # history pages of a missing object redirect or 404 before any check
                assert client.get(url).status_code == 403, url
            assert client.post(url, {"post": "yes"}).status_code == 403, url


def test_reviewers_and_ops_read_the_estate_pages_and_developers_do_not(client, auditor, ops, dev, deployment):
    pages = [
        reverse("audit:timeline"),
        reverse("audit:as-of"),
        reverse("audit:diff"),
        "/api/v1/audit/diff/?from=2020-01-01&to=2030-01-01",
    ]
    for user, expected in ((auditor, 200), (ops, 200), (dev, 403)):
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == expected, (user, url)


def test_a_developer_sees_the_history_of_their_own_deployments_only(client, dev, outsider, deployment):
    url = reverse("audit:deployment-history", args=[deployment.pk])
    client.force_login(dev)
    page = client.get(url)
    assert page.status_code == 200 and "Restore this configuration" in page.content.decode()
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get(f"/api/v1/deployments/{deployment.pk}/history/").status_code == 404
    assert client.get("/api/v1/audit/events/").json()["count"] == 0
