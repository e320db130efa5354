"""The top bar's search: deployments, environments, bundles and runs by number, each only as its reader may see."""

import pytest
from django.urls import reverse

from deployments.models import Deployment, Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def found(catalog, proto_env, other_env):
    mine = Deployment.objects.create(
        environment=proto_env, name="orders-db", bundle_version=catalog["postgres"], params={}, status="live"
    )
    theirs = Deployment.objects.create(
        environment=other_env, name="orders-cache", bundle_version=catalog["postgres"], params={}, status="live"
    )
    run = Run.objects.create(deployment=mine, action="plan", status="succeeded", bundle_version=mine.bundle_version)
    their_run = Run.objects.create(
        deployment=theirs, action="plan", status="succeeded", bundle_version=theirs.bundle_version
    )
    return mine, theirs, run, their_run


def test_a_name_finds_the_deployments_environments_and_bundles_one_may_see(dev_client, found):
    mine, theirs, _, _ = found
    page = dev_client.get(reverse("search"), {"q": "orders"}).content.decode()
    assert mine.get_absolute_url() in page
    assert theirs.get_absolute_url() not in page and "orders-cache" not in page  # another team's: not even named
    page = dev_client.get(reverse("search"), {"q": "proto"}).content.decode()
    assert reverse("deployments:canvas", args=[mine.environment.pk]) in page
    assert reverse("deployments:canvas", args=[theirs.environment.pk]) not in page
    page = dev_client.get(reverse("search"), {"q": "postgres"}).content.decode()
    assert reverse("bundles:detail", args=["postgres"]) in page
    page = dev_client.get(reverse("search"), {"q": "nothing-like-it"}).content.decode()
    assert "Nothing matches" in page


def test_a_runs_number_goes_to_the_run_and_another_teams_run_is_not_found(dev_client, found):
    _, _, run, their_run = found
    for query in (str(run.pk), f"#{run.pk}", f"run {run.pk}"):
        answer = dev_client.get(reverse("search"), {"q": query})
        assert answer.status_code == 302 and answer["Location"] == run.get_absolute_url(), query
    answer = dev_client.get(reverse("search"), {"q": str(their_run.pk)})
    assert answer.status_code == 200
    assert their_run.get_absolute_url() not in answer.content.decode()


def test_every_page_has_the_search_in_its_top_bar_with_its_shortcut(dev_client):
    page = dev_client.get(reverse("home")).content.decode()
    assert 'role="search"' in page and 'aria-keyshortcuts="/"' in page and 'name="q"' in page
