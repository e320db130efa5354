"""The as-of side table (``audit.DeploymentSpan``, issue 18): a trigger on the append-only history table
keeps, for each history row, when it was its deployment's state. It must agree with the history table
whatever writes it (services, restore, the admin's plain saves, deletion, multi-row inserts out of order,
rows at the same instant), and the as-of selector reading it must answer what the history-table read
answers: the same rows, in the same order, counted the same, through the selector, the page and the API."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit import services as audit_services
from audit.selectors import estate as selectors
from audit.selectors.estate import EstateFilters, HistoricalDeployment
from deployments import services
from deployments.choices import DeploymentStatus
from deployments.models import Deployment
from portal.history import record_change

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the spans are kept by a PostgreSQL trigger"),
]

EXPECTED = """
SELECT history_id, id, history_date,
       lead(history_date, 1, 'infinity') OVER (PARTITION BY id ORDER BY history_date, history_id),
       history_type = '-', status, name, bundle_version_id, scope_team, scope_project, scope_environment, scope_tier
FROM deployments_historicaldeployment ORDER BY history_id
"""
ACTUAL = """
SELECT history_id, deployment_id, valid_from, valid_until, gone, status, name, bundle_version_id,
       scope_team, scope_project, scope_environment, scope_tier
FROM audit_deploymentspan ORDER BY history_id
"""


def _spans_agree_with_history() -> int:
    with connection.cursor() as cursor:
        # infinity as text: Python's datetime cannot hold it
        cursor.execute(f"SELECT row(x.*)::text FROM ({EXPECTED}) x")
        expected = [r[0] for r in cursor.fetchall()]
        cursor.execute(f"SELECT row(x.*)::text FROM ({ACTUAL}) x")
        actual = [r[0] for r in cursor.fetchall()]
    assert actual == expected
    return len(actual)


@pytest.fixture
def estate(dev, ops, catalog, proto_env, prod_env):
    """Every kind of writer and of history: created, changed (1 then 1.0), changed back, renamed in the
    admin, destroyed, deleted, restored, created and destroyed inside a window."""
    echo = catalog["echo"]
    moments = {"t0": timezone.now()}
    made = {}
    for i in range(5):
        env = proto_env if i % 2 else prod_env
        made[i] = services.deployment_create(
            environment=env, name=f"d{i}", bundle_version=echo, params={"message": f"m{i}"}, actor=dev
        )
    made[5] = Deployment(environment=proto_env, name="d5", bundle_version=echo, params={"message": "m5"})
    made[5].status = DeploymentStatus.LIVE
    made[5].save()  # a plain save (no runs, so it can be deleted below)
    moments["t1"] = timezone.now()
    services.deployment_update(deployment=made[0], params={"message": "changed", "copies": 1}, actor=ops)
    services.deployment_update(deployment=made[0], params={"message": "changed", "copies": 1.0}, actor=ops)
    services.deployment_update(deployment=made[1], params={"message": "there"}, actor=ops)
    services.deployment_update(deployment=made[1], params={"message": "m1"}, actor=ops)  # and back
    made[2].refresh_from_db()
    made[2].name = "d2-renamed"  # the admin's plain save
    record_change(made[2], channel="admin", actor=ops, note="renamed")
    made[2].save()
    made[6] = services.deployment_create(
        environment=proto_env, name="d6", bundle_version=echo, params={"message": "brief"}, actor=dev
    )
    made[6].refresh_from_db()
    made[6].status = DeploymentStatus.DESTROYED
    made[6].save()
    moments["t2"] = timezone.now()
    made[3].refresh_from_db()
    made[3].status = DeploymentStatus.DESTROYED
    made[3].save()
    first = HistoricalDeployment.objects.filter(id=made[1].pk).order_by("history_date").first()
    audit_services.deployment_restore(deployment=made[1], history_id=first.history_id, actor=ops, reason="back")
    made[5].refresh_from_db()
    made[5].delete()
    moments["t3"] = timezone.now()
    return {"made": made, "moments": moments, "prod": prod_env, "proto": proto_env}


def test_every_writer_keeps_the_spans_in_step_with_the_history(estate):
    assert _spans_agree_with_history() >= 15


def test_rows_inserted_together_out_of_order_and_at_the_same_instant(estate):
    """A multi-row insert (a bulk path's ``bulk_create``), its rows older than some already there and two
    at the same instant: each span still ends where the next row (by date, then id) begins."""
    dep = estate["made"][4]
    rows = list(HistoricalDeployment.objects.filter(id=dep.pk).order_by("history_date", "history_id"))
    base = rows[0]
    copies = []
    for delta in (timedelta(microseconds=5), timedelta(microseconds=5), timedelta(days=-1), timedelta(days=3)):
        copy = HistoricalDeployment(
            **{f.attname: getattr(base, f.attname) for f in HistoricalDeployment._meta.concrete_fields}
        )
        copy.history_id = None
        copy.history_date = base.history_date + delta
        copy.params = {"message": f"bulk {delta}"}
        copies.append(copy)
    HistoricalDeployment.objects.bulk_create(copies)
    _spans_agree_with_history()
    HistoricalDeployment.objects.bulk_create([copies[0].__class__(**{**_fields(copies[0]), "history_id": None})])
    _spans_agree_with_history()


def _fields(row):
    return {f.attname: getattr(row, f.attname) for f in HistoricalDeployment._meta.concrete_fields}


def _filters(estate):
    yield EstateFilters()
    yield EstateFilters(include_destroyed=True)
    yield EstateFilters(status=DeploymentStatus.DESTROYED)
    yield EstateFilters(status=DeploymentStatus.DEPLOYING)
    yield EstateFilters(tier=estate["prod"].tier)
    yield EstateFilters(team=estate["prod"].project.team.slug, tier=estate["proto"].tier)
    yield EstateFilters(project=estate["prod"].project.slug, include_destroyed=True)
    yield EstateFilters(bundle="echo")
    yield EstateFilters(bundle="no-such-bundle")
    yield EstateFilters(name="d")
    yield EstateFilters(name="D4")


def _answer(qs):
    return qs.count(), [(r.history_id, r.id, r.name, r.status, r.params) for r in qs]


def test_the_estate_as_of_any_moment_is_what_the_history_table_says(estate):
    moments = [estate["moments"][k] for k in ("t0", "t1", "t2", "t3")]
    moments += [timezone.now() + timedelta(days=1)]
    moments += list(HistoricalDeployment.objects.values_list("history_date", flat=True))  # exactly at a row
    for when in moments:
        for filters in _filters(estate):
            assert _answer(selectors.estate_as_of(when, filters)) == _answer(
                selectors._estate_as_of_rows(when, filters)
            ), (when, filters)
    assert selectors.estate_as_of(estate["moments"]["t0"]).count() == 0
    names = [r.name for r in selectors.estate_as_of(estate["moments"]["t3"], EstateFilters(include_destroyed=True))]
    assert sorted(names) == ["d0", "d1", "d2-renamed", "d3", "d4", "d6"]  # d5 deleted


def test_a_renamed_deployment_is_found_by_the_name_it_had_then(estate):
    """Filtered by name, the estate at T lists deployments by their name at T (the history-table read
    chose the newest row among those with a matching name, so an old name found a stale row)."""
    before, after = estate["moments"]["t1"], estate["moments"]["t3"]
    assert [r.name for r in selectors.estate_as_of(before, EstateFilters(name="d2"))] == ["d2"]
    assert [r.name for r in selectors.estate_as_of(after, EstateFilters(name="renamed"))] == ["d2-renamed"]
    assert [r.name for r in selectors.estate_as_of(after, EstateFilters(name="d2"))] == ["d2-renamed"]


def test_the_as_of_page_and_api_answer_from_the_spans_as_from_the_history(estate, auditor, monkeypatch):
    when = estate["moments"]["t3"].isoformat()

    def answers():
        api = APIClient()
        api.force_authenticate(auditor)
        response = api.get("/api/v1/audit/as-of/", {"at": when, "include_destroyed": "true"})
        assert response.status_code == 200, response.content
        page = APIClient()
        page.force_login(auditor)
        html = page.get(reverse("audit:as-of"), {"at": when})
        assert html.status_code == 200
        exported = page.get(reverse("audit:as-of"), {"at": when, "format": "json"})
        body = b"".join(exported.streaming_content)
        rows = [(r.history_id, r.name) for r in html.context["page"].object_list]
        return response.json(), rows, html.context["page"].paginator.count, body

    new = answers()
    monkeypatch.setattr(selectors, "estate_as_of", selectors._estate_as_of_rows)
    monkeypatch.setattr("audit.views.estate_as_of", selectors._estate_as_of_rows)
    monkeypatch.setattr("audit.api.views.estate_as_of", selectors._estate_as_of_rows)
    assert answers() == new
    assert new[2] == 4  # d0, d1, d2-renamed, d4 (d3 and d6 destroyed, d5 deleted)


def test_the_as_of_page_reads_a_fixed_number_of_queries(estate, auditor, client, django_assert_max_num_queries):
    client.force_login(auditor)
    with django_assert_max_num_queries(15):
        assert client.get(reverse("audit:as-of")).status_code == 200


def test_pages_and_counts_of_the_as_of_rows_are_those_of_the_history_read(estate):
    """The as-of queryset counts and slices on the side table alone; filtered further, it is an ordinary
    queryset. Either way it answers as the history-table read."""
    when = estate["moments"]["t3"]
    for filters in _filters(estate):
        new, old = selectors.estate_as_of(when, filters), selectors._estate_as_of_rows(when, filters)
        assert new.count() == old.count()
        for window in (slice(0, 2), slice(2, 4), slice(3, 100), slice(1, None)):
            assert [r.history_id for r in new[window]] == [r.history_id for r in old[window]], (filters, window)
        assert new.filter(status=DeploymentStatus.LIVE).count() == old.filter(status=DeploymentStatus.LIVE).count()
        assert new[1:3].count() == old[1:3].count()
        if old.count():
            assert new[0].history_id == old[0].history_id
        assert list(new.values_list("id", flat=True)) == list(old.values_list("id", flat=True))


def test_every_as_of_row_read_in_chunks_is_the_history_read(estate):
    """An export iterates the as-of rows in chunks (the join of the history and the side table)."""
    when = estate["moments"]["t3"]
    for filters in _filters(estate):
        new, old = selectors.estate_as_of(when, filters), selectors._estate_as_of_rows(when, filters)
        expected = [(r.history_id, r.bundle_version.bundle.name) for r in old]
        got = new.select_related("bundle_version__bundle").iterator(chunk_size=2)
        assert [(r.history_id, r.bundle_version.bundle.name) for r in got] == expected
        assert list(new.values_list("id", "status").iterator(chunk_size=3)) == list(old.values_list("id", "status"))
