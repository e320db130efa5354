"""The Django admin as ops meet it: in Slipway's colours, read-only pages without Save buttons, and no way to
delete a deployment's record (deleting it would destroy nothing, only forget what runs)."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(catalog, proto_env):
    return Deployment.objects.create(
        environment=proto_env, name="orders-db", bundle_version=catalog["postgres"], params={}, status="live"
    )


@pytest.fixture
def ops_client(client, ops):
    # What seed_demo grants the group: every permission of Slipway's apps.
    slipway = ["portal", "bundles", "deployments", "audit"]
    ops.groups.get().permissions.set(Permission.objects.filter(content_type__app_label__in=slipway))
    client.force_login(ops)
    return client


def test_the_admin_wears_slipways_colours_and_links_back(ops_client):
    page = ops_client.get(reverse("admin:index")).content.decode()
    assert "css/admin.css" in page
    assert "Slipway admin" in page
    assert 'href="/"' in page  # "View site": back to the portal


def test_a_deployment_is_read_only_here_and_its_record_cannot_be_deleted(ops_client, deployment):
    listing = ops_client.get(reverse("admin:deployments_deployment_changelist")).content.decode()
    assert "delete_selected" not in listing
    change = ops_client.get(reverse("admin:deployments_deployment_change", args=[deployment.pk]))
    assert change.status_code == 200
    page = change.content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "deletelink" not in page
    assert ops_client.post(reverse("admin:deployments_deployment_delete", args=[deployment.pk])).status_code == 403
    assert Deployment.objects.filter(pk=deployment.pk).exists()
    saved = ops_client.post(reverse("admin:deployments_deployment_change", args=[deployment.pk]), {"name": "x"})
    assert saved.status_code == 403


@pytest.mark.parametrize("model", ["run", "driftcheck", "bulkchange", "runlogline", "stateversion"])
def test_pages_of_records_made_elsewhere_are_read_only(ops_client, ops, rf, model):
    model_admin = admin.site._registry[apps.get_model("deployments", model)]
    request = rf.get("/")
    request.user = ops
    # A change page without change permission is drawn read-only, with Close instead of Save.
    assert model_admin.has_view_permission(request) and not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    listing = ops_client.get(reverse(f"admin:deployments_{model}_changelist"))
    assert listing.status_code == 200
    assert "delete_selected" not in listing.content.decode()
