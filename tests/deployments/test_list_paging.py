"""The deployments list reads its search along indexes and its pages keys first (issue 18): it lists the
same deployments, in the same order, as the one query over the joined tables did."""

import pytest
from django.db.models import Q
from django.urls import reverse
from rest_framework.test import APIClient

from deployments.models import Deployment
from tests.portal.test_query_counts import _add

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(catalog, proto_env, prod_env, other_env):
    return _add(catalog, [proto_env, prod_env, other_env], 0, 60)


@pytest.fixture
def ops_client(client, ops):
    client.force_login(ops)
    return client


def _old_search(value: str):
    """What the search matched before: one OR across the joined tables."""
    return Deployment.objects.filter(
        Q(name__icontains=value)
        | Q(environment__project__slug__icontains=value)
        | Q(bundle_version__bundle__name__icontains=value)
    ).order_by("-updated_at", "-id")


@pytest.mark.parametrize("value", ["q1", "Q1", "q", "search", "SEARCH-api", "ech", "nothing-like-it", "%", "_"])
def test_the_search_finds_what_it_found_before(ops_client, ops, many, value):
    old = [d.pk for d in _old_search(value)]
    listed = []
    number = 1
    while True:
        page = ops_client.get(reverse("deployments:list"), {"q": value, "page": number}).context["page"]
        listed += [d.pk for d in page.object_list]
        if not page.has_next():
            break
        number += 1
    assert listed == old
    assert page.paginator.count == len(old)
    api = APIClient()
    api.force_authenticate(ops)
    body = api.get("/api/v1/deployments/", {"q": value, "limit": 1000}).json()
    assert body["count"] == len(old) and sorted(r["id"] for r in body["results"]) == sorted(map(str, old))


def test_each_page_is_the_slice_of_the_ordered_list(ops_client, many):
    ordered = list(Deployment.objects.order_by("-updated_at", "-id").values_list("pk", flat=True))
    assert len(ordered) > 50
    first = ops_client.get(reverse("deployments:list")).context["page"]
    second = ops_client.get(reverse("deployments:list"), {"page": 2}).context["page"]
    assert [d.pk for d in first.object_list] == ordered[:50]
    assert [d.pk for d in second.object_list] == ordered[50:100]
    assert first.paginator.num_pages == 2 and not second.has_next()
    # The URL contract: past the end is the last page, and an unreadable page the first.
    assert ops_client.get(reverse("deployments:list"), {"page": 99}).context["page"].number == 2
    assert ops_client.get(reverse("deployments:list"), {"page": "x"}).context["page"].number == 1
    # Each row's relations come with the page (no query per row).
    row = second.object_list[0]
    assert row.environment.project.slug and row.bundle_version.bundle.name


def test_the_overview_counts_deployments_by_status(ops_client, many):
    Deployment.objects.filter(pk__in=[d.pk for d in many[:7]]).update(status="failed")
    response = ops_client.get(reverse("home"))
    expected = {}
    for status in Deployment.objects.values_list("status", flat=True):
        expected[status] = expected.get(status, 0) + 1
    assert response.context["by_status"] == expected and expected["failed"] == 7
    assert response.context["total"] == Deployment.objects.count()
