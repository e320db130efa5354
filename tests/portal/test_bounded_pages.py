"""Pages that read a bounded part of a long list keep every row reachable (issue 18): a run's log by windows
of lines, a deployment's history by pages, the runs API's count from the database's tally."""

import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit.selectors import deployment_history, history_index
from audit.views import HISTORY_PAGE
from deployments.models import Deployment, Run, RunLogLine
from deployments.runs.selectors import LOG_WINDOW, run_log_window

pytestmark = pytest.mark.django_db

LINES = LOG_WINDOW * 2 + 150


def _deployment(catalog, env, name="long") -> Deployment:
    return Deployment.objects.create(
        environment=env, name=name, bundle_version=catalog["echo"], params={"message": "a"}, status="live"
    )


def _run(deployment, status="succeeded", **extra) -> Run:
    return Run.objects.create(
        deployment=deployment,
        action="apply",
        status=status,
        bundle_version=deployment.bundle_version,
        params=deployment.params,
        requested_by_name="dev",
        finished_at=timezone.now() if status == "succeeded" else None,
        **extra,
    )


@pytest.fixture
def long_run(catalog, proto_env):
    run = _run(_deployment(catalog, proto_env))
    RunLogLine.objects.bulk_create(RunLogLine(run=run, seq=s, text=f"line {s}.") for s in range(1, LINES + 1))
    return run


def _seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]


def test_the_run_page_shows_the_newest_lines_and_links_to_the_earlier_ones(client, ops, long_run):
    client.force_login(ops)
    url = reverse("deployments:run", args=[long_run.pk])
    html = client.get(url).content.decode()
    assert _seqs(html) == list(range(LINES - LOG_WINDOW + 1, LINES + 1))
    assert f'?before={LINES - LOG_WINDOW + 1}#log-{long_run.pk}"' in html
    assert "Show later lines" not in html
    # Walking back by "earlier lines" reaches the first line, each line once.
    seen, before = _seqs(html), LINES - LOG_WINDOW + 1
    while True:
        html = client.get(url, {"before": before}).content.decode()
        window = _seqs(html)
        seen = window + seen
        assert "Show later lines" in html and f"?after={window[-1]}" in html
        if "Show earlier lines" not in html:
            break
        before = window[0]
    assert seen == list(range(1, LINES + 1))
    # ...and forward again by "later lines" from the first window.
    html = client.get(url, {"after": LOG_WINDOW}).content.decode()
    assert _seqs(html) == list(range(LOG_WINDOW + 1, 2 * LOG_WINDOW + 1))
    assert "Show earlier lines" in html and "Show later lines" in html
    # The download is the whole log.
    raw = client.get(reverse("deployments:run-logs", args=[long_run.pk]), {"format": "raw"}).content.decode()
    assert raw.splitlines() == [f"line {s}." for s in range(1, LINES + 1)]


def test_a_running_runs_page_follows_the_tail_and_a_window_of_earlier_lines_does_not(client, ops, catalog, proto_env):
    run = _run(_deployment(catalog, proto_env, "live"), status="running")
    RunLogLine.objects.bulk_create(RunLogLine(run=run, seq=s, text=f"l{s}") for s in range(1, LOG_WINDOW + 11))
    client.force_login(ops)
    url = reverse("deployments:run", args=[run.pk])
    html = client.get(url).content.decode()
    tail = reverse("deployments:run-logs", args=[run.pk])
    assert f'hx-get="{tail}?after={LOG_WINDOW + 10}&amp;seen=running"' in html
    html = client.get(url, {"before": 5}).content.decode()
    assert _seqs(html) == [1, 2, 3, 4]
    assert f'hx-get="{tail}' not in html  # a window of earlier lines does not append the live tail
    # The deployment page's run panel shows the same newest lines, with the way to the earlier ones.
    html = client.get(reverse("deployments:detail", args=[run.deployment_id])).content.decode()
    assert _seqs(html)[0] == 11 and _seqs(html)[-1] == LOG_WINDOW + 10
    assert f"{url}?before=11#log-{run.pk}" in html
    assert f'hx-get="{tail}?after={LOG_WINDOW + 10}&amp;seen=running"' in html


def test_a_log_window_is_one_query(django_assert_num_queries, long_run):
    with django_assert_num_queries(1):
        window = run_log_window(long_run, before=100, limit=10)
    assert [line.seq for line in window.lines] == list(range(90, 100)) and window.earlier and window.later


@pytest.fixture
def many_versions(catalog, proto_env):
    deployment = _deployment(catalog, proto_env, "busy")
    for i in range(HISTORY_PAGE + 12):
        deployment.params = {"message": f"m{i}"}
        deployment.save()
        if i % 3 == 0:
            _run(deployment)
        deployment.status = "applying" if i % 2 else "live"  # status updates between changes
        deployment.save()
        deployment.save()  # and one that changes nothing the page shows ("other")
    return deployment


def test_a_page_of_history_reads_the_same_steps_as_the_whole_history(many_versions):
    whole = deployment_history(many_versions)
    versions = history_index(many_versions)
    assert [v.history_id for v in versions] == [s.row.history_id for s in whole]
    assert [v.kind for v in versions] == [s.kind for s in whole]
    for part in (versions[:7], versions[40:90], versions[-3:]):
        steps = deployment_history(many_versions, part)
        same = [s for s in whole if s.row.history_id in {v.history_id for v in part}]
        assert [(s.row.history_id, s.kind, s.changes, s.run, s.previous) for s in steps] == [
            (s.row.history_id, s.kind, s.changes, s.run, s.previous) for s in same
        ]
    assert any(s.run for s in whole)


def test_the_history_page_is_paged_and_finds_the_page_of_an_entry(client, ops, many_versions):
    client.force_login(ops)
    url = reverse("audit:deployment-history", args=[many_versions.pk])
    versions = history_index(many_versions)
    shown = [v for v in versions if v.kind != "other"]
    html = client.get(url).content.decode()
    assert html.count('class="card history-step') == HISTORY_PAGE
    assert f"{len(shown)} in all" in html and "page=2" in html
    html = client.get(url, {"page": 3}).content.decode()
    rest = len(shown) - 2 * HISTORY_PAGE
    assert html.count('class="card history-step') == rest
    assert f'id="h{shown[-1].history_id}"' in html
    assert f"Show all {len(versions) - len(shown)} worker updates" in html
    # An entry on a later page, and an entry that is a worker update (shown with all of them).
    oldest = shown[-1].history_id
    assert f'id="h{oldest}"' in client.get(url, {"entry": oldest}).content.decode()
    other = next(v for v in reversed(versions) if v.kind == "other").history_id
    html = client.get(url, {"entry": other}).content.decode()
    assert f'id="h{other}"' in html and "Hide worker updates" in html and "?all=1&page=" in html


def test_the_runs_api_counts_every_run_from_the_tally(client, ops, dev, catalog, proto_env, other_env):
    first = _deployment(catalog, proto_env, "a")
    second = _deployment(catalog, other_env, "b")
    for _ in range(3):
        _run(first)
    _run(second)
    Run.objects.bulk_create(
        Run(deployment=second, action="apply", status="failed", bundle_version=second.bundle_version, params={})
        for _ in range(4)
    )
    client.force_login(ops)
    body = client.get("/api/v1/runs/").json()
    assert body["count"] == Run.objects.count() == 8
    assert client.get("/api/v1/runs/", {"status": "failed"}).json()["count"] == 4
    assert client.get("/api/v1/runs/", {"deployment": str(first.pk)}).json()["count"] == 3
    client.force_login(dev)  # sees only their team's runs: counted
    assert client.get("/api/v1/runs/").json()["count"] == 3
    client.force_login(ops)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as at commit: the tally moves into the table
            cursor.execute("SELECT sum(runs) FROM deployments_run_tally")
            assert cursor.fetchone()[0] == 8
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        assert client.get("/api/v1/runs/").json()["count"] == 8  # not counted twice


def test_the_log_lines_filter_writes_each_line_as_the_template_partial_does(long_run):
    from django.template.loader import render_to_string

    from portal.templatetags.values import log_lines

    events = [
        None,
        {"hook": {"resource": {"addr": "aws_s3_bucket.b<1>"}, "action": "create", "elapsed_seconds": 12.5}},
        {"hook": {"resource": {"addr": ""}, "action": "", "elapsed_seconds": 0}},
        {"change": {"resource": {"addr": "null_resource.x"}, "action": "delete"}},
        {"hook": "not a dict", "change": {"action": "update"}},
        {"hook": {"elapsed_seconds": 3}},
    ]
    lines = [
        RunLogLine(run=long_run, seq=LINES + i, stream="stderr", level="warn", text=f"<b>{i}</b> & 'x'", event=event)
        for i, event in enumerate(events, 1)
    ]
    RunLogLine.objects.bulk_create(lines)
    for line in RunLogLine.objects.filter(run=long_run, seq__gt=LINES):
        assert log_lines([line]) == render_to_string("deployments/run.html#log-line", {"line": line})
