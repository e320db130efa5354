"""The cost views: what each team, project and environment costs a month, what grew, the biggest
deployments; the page, its CSV and the API read the same selectors, through the one permission rule."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from deployments import services
from deployments.choices import DeploymentStatus
from deployments.costs.selectors import biggest, cost_groups, monthly_history
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


def create(environment, name, actor, catalog, bundle="postgres", **params):
    return services.deployment_create(
        environment=environment, name=name, bundle_version=catalog[bundle], params=params, actor=actor
    )


@pytest.fixture
def estate(dev, outsider, catalog, proto_env, prod_env, other_env):
    create(proto_env, "small-db", dev, catalog, size="small")  # $54.30
    create(prod_env, "big-db", dev, catalog, size="large", high_availability=True)  # $618.60
    create(prod_env, "jobs", dev, catalog, bundle="queue")  # $1
    create(other_env, "search-db", outsider, catalog, size="medium")  # $159.30, another team's
    gone = create(proto_env, "gone-db", dev, catalog, size="xlarge")
    Deployment.objects.filter(pk=gone.pk).update(status=DeploymentStatus.DESTROYED)  # costs nothing now


def test_each_team_project_and_environment_sums_its_deployments(estate):
    everything = Deployment.objects.all()
    by_team = {(g.key, g.currency): (g.monthly, g.deployments) for g in cost_groups(everything, "team")}
    assert by_team[("payments", "USD")] == (Decimal("673.90"), 3)  # the destroyed one left out
    assert sum(v[0] for v in by_team.values()) == Decimal("833.20")
    by_environment = {g.key: g.monthly for g in cost_groups(everything, "environment")}
    assert by_environment["checkout/production"] == Decimal("619.60")
    assert by_environment["checkout/proto"] == Decimal("54.30")
    assert [d.name for d in biggest(everything, limit=2)] == ["big-db", "search-db"]


def test_what_grew_since_a_time_comes_from_the_history(dev, catalog, proto_env):
    database = create(proto_env, "db", dev, catalog, size="small")
    before = timezone.now()
    services.deployment_update(deployment=database, params={"size": "medium"}, actor=dev)
    [group] = cost_groups(Deployment.objects.all(), "project", since=before)
    assert (group.key, group.month_start, group.monthly, group.change) == (
        "checkout",
        Decimal("54.30"),
        Decimal("159.30"),
        Decimal("105.00"),
    )
    points = monthly_history(Deployment.objects.all(), months=2)
    assert len(points) == 3 and points[-1][1] == {"USD": Decimal("159.30")}


def test_the_page_shows_a_developer_only_their_teams_costs(dev_client, estate):
    page = dev_client.get(reverse("deployments:costs"), {"by": "environment"}).content.decode()
    assert "checkout/production" in page and "$620" in page  # 619.60, shown whole
    assert "search-db" not in page and "search-api" not in page
    assert "big-db" in page and 'class="cost-chart"' in page


def test_the_csv_lists_every_priced_deployment_you_can_see(client, ops, estate):
    client.force_login(ops)
    response = client.get(reverse("deployments:costs"), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert {r["deployment"]: r["monthly"] for r in rows} == {
        "small-db": "54.30",
        "big-db": "618.60",
        "jobs": "1.00",
        "search-db": "159.30",
    }


def test_the_api_gives_the_same_figures(dev_client, estate):
    body = dev_client.get("/api/v1/costs/", {"by": "team"}).json()
    assert body["by"] == "team"
    assert [(g["key"], g["monthly"], g["deployments"]) for g in body["groups"]] == [("payments", "673.90", 3)]
    assert [d["name"] for d in body["biggest"]] == ["big-db", "small-db", "jobs"]
    big = Deployment.objects.get(name="big-db")
    detail = dev_client.get(f"/api/v1/deployments/{big.pk}/").json()
    assert (detail["monthly_cost"], detail["cost_currency"]) == ("618.60", "USD")
    refused = dev_client.get("/api/v1/costs/", {"by": "colour"})
    assert refused.status_code == 400 and "/by" in refused.json()["errors"]


def test_with_nothing_priced_the_page_says_what_to_do(dev_client, proto_env):
    page = dev_client.get(reverse("deployments:costs")).content.decode()
    assert "Nothing you can see has a cost estimate yet" in page
