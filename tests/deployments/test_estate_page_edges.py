"""The estate page's rough edges: a count even when nothing matches, "live" meaning live, hints without
literal backticks, examples that are valid queries on the demo data."""

import pytest
from django.urls import reverse

from deployments.estate.query import estate_query
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(catalog, proto_env):
    for name, status in (("orders-db", "live"), ("old-db", "destroyed")):
        Deployment.objects.create(
            environment=proto_env, name=name, bundle_version=catalog["postgres"], params={}, status=status
        )


def _page(client, q):
    return client.get(reverse("deployments:estate"), {"q": q}).content.decode()


def test_nothing_matching_says_zero_not_the_intro(dev_client, estate):
    page = _page(dev_client, "name:nothing-like-it")
    assert "<strong>0</strong> deployments match." in page and "Ask a question" not in page
    assert "<strong>1</strong> deployment matches." in _page(dev_client, "name:orders-db")


def test_destroyed_deployments_only_on_request(dev_client, estate):
    page = _page(dev_client, "bundle:postgres")
    assert "orders-db" in page and "old-db" not in page
    page = _page(dev_client, "status:destroyed")
    assert "old-db" in page and "orders-db" not in page


def test_a_hint_shows_code_not_backticks(dev_client, estate):
    page = _page(dev_client, "bundle:")
    assert "query-error" in page and "`" not in page.split('id="estate-results"')[1].split("</div>")[0]
    assert "<code>status:live</code>" in page


def test_the_examples_are_valid_queries(dev_client):
    page = dev_client.get(reverse("deployments:estate")).content.decode()
    assert "workbench" not in page and "team:search" not in page
    for example in ("bundle:postgres params.storage_gb>=20", "status:destroyed", "team:payments -env.tier:prototype"):
        assert example.replace(">", "&gt;") in page
        estate_query(example)  # raises QueryError if not
