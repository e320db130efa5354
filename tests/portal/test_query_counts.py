"""Pages and API lists answer in a fixed number of queries, however many rows they show (issue 18).

Each page is read with a small estate, then again after more deployments, runs, history rows and log
lines are added: the number of queries must not grow (an N+1 shows as a count that follows the rows),
and stays under a cap. The API deployments list used to spend one query per row on its latest run.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deployments.models import Deployment, Run, RunLogLine

pytestmark = pytest.mark.django_db

CAP = 40  # no page needs more; most need far fewer


@pytest.fixture(autouse=True)
def reap_on_every_request(settings):
    """The run, deployment and home pages reap dead runs at most once per ``SLIPWAY_REAPER_INTERVAL`` in a
    process: counted with the default 15 s, a page's queries would depend on how long the test had taken so
    far (a slow machine reaped in the second read only, and the run page seemed to grow by one query).
    Reaping on every request counts the reaper's own queries each time, which must not grow either."""
    settings.SLIPWAY_REAPER_INTERVAL = 0


def _add(catalog, environments, start: int, count: int) -> list[Deployment]:
    version = catalog["echo"]
    made = []
    for i in range(start, start + count):
        deployment = Deployment.objects.create(
            environment=environments[i % len(environments)],
            name=f"q{i}",
            bundle_version=version,
            params={"message": f"m{i}"},
            status="live",
        )
        deployment.params = {"message": f"m{i}-2"}
        deployment.save()  # a second history row
        for _ in range(3):
            run = Run.objects.create(
                deployment=deployment,
                action="apply",
                status="succeeded",
                bundle_version=version,
                params=deployment.params,
                requested_by_name="dev",
                finished_at=timezone.now(),
            )
        RunLogLine.objects.bulk_create(RunLogLine(run=run, seq=s, text=f"line {s}") for s in range(10))
        made.append(deployment)
    return made


def _queries(client, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


@pytest.fixture
def estate(catalog, proto_env, prod_env, other_env):
    return {
        "catalog": catalog,
        "envs": [proto_env, prod_env, other_env],
        "first": _add(catalog, [proto_env, prod_env, other_env], 0, 3),
    }


def _pages(estate):
    first = estate["first"][0]
    run = first.runs.order_by("-created_at").first()
    now = (timezone.now() + timezone.timedelta(hours=1)).isoformat()  # after the rows added later too
    return [
        ("ops", reverse("home"), {}),
        ("ops", reverse("deployments:list"), {}),
        ("ops", reverse("deployments:list"), {"q": "q1"}),
        ("ops", reverse("deployments:list"), {"page": 2}),
        ("ops", reverse("deployments:detail", args=[first.pk]), {}),
        ("ops", reverse("deployments:run", args=[run.pk]), {}),
        ("ops", reverse("deployments:estate"), {"q": "bundle:echo"}),
        ("auditor", reverse("audit:timeline"), {}),
        ("auditor", reverse("audit:timeline"), {"page": 2}),
        ("auditor", reverse("audit:as-of"), {"at": now}),
        ("auditor", reverse("audit:deployment-history", args=[first.pk]), {}),
        ("auditor", reverse("audit:deployment-history", args=[first.pk]), {"all": "1", "page": "2"}),
        ("ops", reverse("deployments:run", args=[run.pk]), {"before": "5"}),
        ("ops", "/api/v1/deployments/", {}),
        ("ops", "/api/v1/runs/", {}),
        ("ops", "/api/v1/runs/", {"status": "succeeded"}),
    ]


def test_no_page_grows_its_queries_with_its_rows(client, ops, auditor, estate):
    users = {"ops": ops, "auditor": auditor}
    pages = _pages(estate)
    before = {}
    for who, url, params in pages:
        client.force_login(users[who])
        before[(url, str(params))] = _queries(client, url, **params)
    _add(estate["catalog"], estate["envs"], 100, 12)
    grown = {}
    for who, url, params in pages:
        client.force_login(users[who])
        after = _queries(client, url, **params)
        assert after <= CAP, (url, after)
        if after > before[(url, str(params))]:
            grown[url] = (before[(url, str(params))], after)
    assert not grown, f"queries that follow the rows (before, after): {grown}"


def test_the_api_deployments_list_reads_each_latest_run_in_its_own_query(client, ops, estate):
    client.force_login(ops)
    body = client.get("/api/v1/deployments/").json()
    rows = body["results"] if isinstance(body, dict) else body
    for row in rows:
        newest = Run.objects.filter(deployment_id=row["id"]).order_by("-created_at", "-id").first()
        assert row["latest_run"] == (newest.pk if newest else None)


def test_the_timeline_and_the_list_read_a_page_in_a_few_queries(
    client, ops, auditor, estate, django_assert_max_num_queries
):
    """The timeline: the form's choices, one count (stopping at its cap) and one read of the page; the list:
    one count, the page's keys, their rows (issue 18: neither orders nor joins every row)."""
    _add(estate["catalog"], estate["envs"], 100, 30)
    client.force_login(auditor)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("audit:timeline"), {"page": 2}).status_code == 200
    client.force_login(ops)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("deployments:list"), {"page": 2, "q": "q1"}).status_code == 200
