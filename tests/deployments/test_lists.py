"""One filterset per list, shared by the page and the API; reading a page writes nothing; the bulk-change
pages are real forms."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from deployments.estate import bulk
from deployments.models import BulkChange, Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def spread(catalog, proto_env, prod_env):
    for name, env, status in (
        ("alpha", proto_env, "live"),
        ("beta", prod_env, "live"),
        ("gamma", prod_env, "failed"),
    ):
        Deployment.objects.create(
            environment=env, name=name, bundle_version=catalog["echo"], params={"message": "m"}, status=status
        )


@pytest.mark.parametrize(
    "query",
    [
        {"status": "live"},
        {"q": "amm"},
        {"q": "echo", "environment__tier": "production"},
        {"environment__slug": "proto"},
        {"status": "live", "environment__tier": "production"},
    ],
)
def test_the_page_and_the_api_list_the_same_deployments_for_the_same_filter(dev_client, dev, spread, query):
    page = dev_client.get(reverse("deployments:list"), query)
    on_page = sorted(d.name for d in page.context["page"].object_list)
    api = APIClient()
    api.force_authenticate(dev)
    in_api = sorted(d["name"] for d in api.get("/api/v1/deployments/", query).json()["results"])
    assert on_page == in_api and on_page


def test_a_filter_that_cannot_be_read_lists_nothing_on_the_page_and_is_refused_by_the_api(dev_client, dev, spread):
    assert list(dev_client.get(reverse("deployments:list"), {"status": "nonsense"}).context["page"]) == []
    api = APIClient()
    api.force_authenticate(dev)
    assert api.get("/api/v1/deployments/", {"status": "nonsense"}).status_code == 400


def test_looking_at_a_quiet_bulk_change_writes_nothing_and_offers_a_restart(client, ops, spread):
    change = bulk.bulk_change_create(
        title="x", query="bundle:echo", patch=[{"op": "unset", "path": "/copies"}], actor=ops
    )
    change = bulk.bulk_dry_run_start(bulk=change, actor=ops)
    BulkChange.objects.filter(pk=change.pk).update(driven_at=timezone.now() - timedelta(minutes=5))
    token = BulkChange.objects.get(pk=change.pk).driver_token
    client.force_login(ops)
    page = client.get(change.get_absolute_url()).content.decode()
    assert "restart it now" in page
    assert BulkChange.objects.get(pk=change.pk).driver_token == token  # a GET changed nothing
    client.post(reverse("deployments:bulk-action", args=[change.pk]), {"action": "restart"})
    assert BulkChange.objects.get(pk=change.pk).driver_token != token


def test_the_new_bulk_change_form_says_which_line_is_wrong_and_keeps_what_was_typed(client, ops, spread):
    client.force_login(ops)
    response = client.post(
        reverse("deployments:bulk-new"), {"title": "t", "q": "bundle:echo", "changes": "set /copies = 2\nreplace /x"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Line 2: write `set /path = value` or `unset /path`." in body and "set /copies = 2" in body
    assert not BulkChange.objects.exists()
    bad_query = client.post(reverse("deployments:bulk-new"), {"q": "bundle:(", "changes": "unset /copies"})
    assert bad_query.status_code == 400 and "The query is not valid" in bad_query.content.decode()
    # A NUL character (which no field can hold): the form again, the error at its field, the rest as typed.
    nul = client.post(
        reverse("deployments:bulk-new"), {"title": "kept", "q": "bundle:echo\x00", "changes": "unset /copies"}
    )
    body = nul.content.decode()
    assert nul.status_code == 400 and "NUL character" in body and "It was removed" in body
    assert 'value="kept"' in body and "unset /copies" in body and 'value="bundle:echo"' in body
    assert not BulkChange.objects.exists()
