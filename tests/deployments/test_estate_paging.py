"""The estate's pages (the page and the API) read the matches per environment, then the page's keys environment
by environment (``Matches``, issue 18): whatever the window, they show exactly what counting and slicing the
ordered queryset shows, in the estate's order (project, environment, name), with each row's relations and
resources read once."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from deployments.estate.query import Matches, deployments_matching
from deployments.models import Deployment, Environment, Project, StateResource

pytestmark = pytest.mark.django_db

# Names whose order is not their creation order, nor their ids', with case and punctuation the collation weighs.
NAMES = ["zeta", "Alpha", "beta-2", "beta_1", "b", "gamma", "Delta", "a-1", "a1", "m", "omega", "eta"]


@pytest.fixture
def estate(catalog, team, other_team, project, proto_env, prod_env, other_env):
    # a project whose slug sorts before the fixture's and one after, so project order is tested
    early = Project.objects.create(slug="aardvark", name="Aardvark", team=team)
    late = Project.objects.create(slug="zzz-late", name="Late", team=team)
    envs = [
        prod_env,
        proto_env,
        other_env,
        Environment.objects.create(project=late, slug="dev", name="Dev", tier="prototype"),
        Environment.objects.create(project=early, slug="qa", name="QA", tier="staging"),
        Environment.objects.create(project=early, slug="prod", name="Prod", tier="production"),
    ]
    made = []
    for i, name in enumerate(NAMES * 2):
        env = envs[i % len(envs)]
        made.append(
            Deployment.objects.create(
                environment=env,
                name=f"{name}-{i // len(NAMES)}",
                bundle_version=catalog["postgres"],
                params={"n": i},
                status="destroyed" if i == 5 else "live",
            )
        )
        StateResource.objects.create(
            deployment=made[-1], address="aws_db_instance.main", type="aws_db_instance", attributes={"n": i}
        )
    return made


@pytest.mark.parametrize("text", ["params.n>=0", "params.n>=3 params.n<20", "resource.aws_db_instance.n>=1", "name~m"])
def test_every_window_shows_what_counting_and_slicing_show(estate, ops, dev, text):
    for user in (ops, dev):
        _, qs = deployments_matching(user=user, text=text)
        total = qs.count()
        assert total >= 5
        found = Matches(qs)
        assert found.count() == total, text
        for start, size in ((0, 5), (5, 5), (3, 9), (total - 2, 5), (0, 50), (total, 5), (total + 10, 5)):
            assert [d.pk for d in found[start : start + size]] == [d.pk for d in qs[start : start + size]], (
                start,
                size,
            )
        assert [d.pk for d in found[0:total]] == [d.pk for d in qs]
        assert [d.pk for d in found[2:]] == [d.pk for d in qs[2:]]


def test_rows_come_with_their_relations_and_resources_in_a_fixed_number_of_reads(estate, ops):
    _, qs = deployments_matching(user=ops, text="resource.aws_db_instance.n>=0")
    found = Matches(qs, prefetch=("state_resources",))
    with CaptureQueriesContext(connection) as reads:
        found.count()
        rows = found[0:50]
        names = [
            (d.environment.project.team.slug, d.bundle_version.bundle.name, len(d.state_resources.all())) for d in rows
        ]
    assert len(names) == 23 and all(n == 1 for *_, n in names)
    # PostgreSQL: the matches per environment, the page's keys; the rows with their relations, their resources
    # (each of the first two in a transaction of its own, with its planner setting: not reads)
    selects = [q["sql"] for q in reads.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(selects) == (4 if connection.vendor == "postgresql" else 3), selects


def test_nothing_visible_or_nothing_matching_is_zero(estate, ops):
    loner = get_user_model().objects.create_user(username="loner")  # in no team: sees nothing
    for user, text in (
        (AnonymousUser(), "params.n>=0"),
        (loner, "params.n>=0"),
        (ops, "params.n>=1000"),
        (ops, "params.nothing~x"),
    ):
        _, qs = deployments_matching(user=user, text=text)
        found = Matches(qs)
        assert found.count() == 0 and found[0:50] == []


def test_the_page_and_the_api_show_the_same_pages(client, ops, estate):
    client.force_login(ops)
    _, qs = deployments_matching(user=ops, text="params.n>=0")
    order = [d.name for d in qs]
    url = reverse("deployments:estate")
    with pytest.MonkeyPatch.context() as m:
        m.setattr("deployments.estate.views.PAGE_SIZE", 10)
        second = client.get(url, {"q": "params.n>=0", "page": "2"}).content.decode()
        past = client.get(url, {"q": "params.n>=0", "page": "99"}).content.decode()
        junk = client.get(url, {"q": "params.n>=0", "page": "junk"}).content.decode()
    assert f"<strong>{len(order)}</strong> deployments match." in second
    assert all(f">{name}<" in second for name in order[10:20]) and f">{order[9]}<" not in second
    assert all(f">{name}<" in past for name in order[20:]) and f">{order[19]}<" not in past  # the last page
    assert f">{order[0]}<" in junk and f">{order[10]}<" not in junk
    api = client.get("/api/v1/estate/", {"q": "params.n>=0", "offset": 7, "limit": 5}).json()
    assert api["count"] == len(order) and [row["name"] for row in api["results"]] == order[7:12]
    assert client.get("/api/v1/estate/", {"q": "params.n>=0", "offset": 500}).json()["results"] == []


def test_destroyed_deployments_and_one_deleted_between_the_reads(estate, ops):
    _, qs = deployments_matching(user=ops, text="status:destroyed")
    found = Matches(qs)
    assert found.count() == 1 and [d.name for d in found[0:50]] == [d.name for d in qs]
    _, qs = deployments_matching(user=ops, text="params.n>=0")
    found = Matches(qs)
    total = found.count()
    first = list(qs[:3])
    first[1].delete()  # after the count, before the page: left out, not an error
    shown = [d.pk for d in found[0:3]]
    assert shown[:2] == [first[0].pk, first[2].pk] and first[1].pk not in shown
    # (PostgreSQL pages from the counts it read: the page is one short; SQLite reads the page anew)
    assert len(shown) == (2 if connection.vendor == "postgresql" else 3) and total == 23


@pytest.mark.parametrize("window", [3, slice(-5, None), slice(0, -1), slice(0, 10, 2)])
def test_only_forward_slices_are_read(estate, ops, window):
    _, qs = deployments_matching(user=ops, text="params.n>=0")
    with pytest.raises(TypeError):
        Matches(qs)[window]
