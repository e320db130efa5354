"""The estate diff reads both states in one LATERAL query on PostgreSQL (issue 18); it must answer
exactly what the former read (a subquery of newest history ids per state) answered: same rows, same
entries, same counts, through the selector, the API and the page."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.selectors import estate as selectors
from deployments import services
from deployments.choices import DeploymentStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(dev, ops, catalog, proto_env, prod_env):
    """Deployments added before and inside the window, changed inside it (and changed back), destroyed."""
    made = {}
    for i in range(6):
        env = proto_env if i % 2 else prod_env
        made[i] = services.deployment_create(
            environment=env, name=f"d{i}", bundle_version=catalog["echo"], params={"message": f"m{i}"}, actor=dev
        )
    start = timezone.now()
    services.deployment_update(deployment=made[0], params={"message": "changed"}, actor=ops)
    services.deployment_update(deployment=made[1], params={"message": "there"}, actor=ops)
    services.deployment_update(deployment=made[1], params={"message": "m1"}, actor=ops)  # and back
    services.deployment_update(deployment=made[2], params={"message": "x", "copies": 2}, actor=ops)
    made[6] = services.deployment_create(
        environment=proto_env, name="d6", bundle_version=catalog["echo"], params={"message": "new"}, actor=dev
    )
    made[3].status = DeploymentStatus.DESTROYED
    made[3].save()
    middle = timezone.now()
    services.deployment_update(deployment=made[4], params={"message": "later"}, actor=ops)
    return {"start": start, "middle": middle, "end": timezone.now()}


def _old_states(touched, start, end):
    return selectors._state(touched, start), selectors._state(touched, end)


def test_the_one_query_reads_the_same_rows_as_the_subqueries(estate):
    for start, end in ((estate["start"], estate["end"]), (estate["start"], estate["middle"])):
        window = selectors.HistoricalDeployment.objects.filter(history_date__gt=start, history_date__lte=end)
        touched = window.order_by().values("id").distinct()
        assert selectors._states(touched, start, end) == _old_states(touched, start, end)
        assert len(selectors._states(touched, start, end)[1]) >= 4


def test_the_diff_api_and_page_answer_as_before(estate, auditor, monkeypatch):
    api = APIClient()
    api.force_authenticate(auditor)

    def answers():
        diff = selectors.estate_diff(estate["start"], estate["end"])
        response = api.get(
            "/api/v1/audit/diff/", {"from": estate["start"].isoformat(), "to": estate["end"].isoformat()}
        )
        assert response.status_code == 200
        api_client = APIClient()
        api_client.force_login(auditor)
        page = api_client.get(reverse("audit:diff"), {"start": estate["start"], "end": estate["end"]})
        assert page.status_code == 200
        return [e.as_dict() for e in diff.entries], diff.counts(), response.json()["results"]

    new = answers()
    monkeypatch.setattr(selectors, "_states", _old_states)
    assert answers() == new
    kinds = sorted(e["kind"] for e in new[0])
    assert kinds == ["added", "changed", "changed", "changed", "removed"], kinds


def _unapproved_runs(estate):
    """Runs applied with no recorded approval inside the window (the services' runs carry their basis)."""
    from deployments.models import Deployment, Run

    made = []
    for name in ("d0", "d2"):
        deployment = Deployment.objects.get(name=name)
        made.append(
            Run.objects.create(
                deployment=deployment,
                action="apply",
                status="succeeded",
                bundle_version=deployment.bundle_version,
                params=deployment.params,
                requested_by_name="someone",
                channel="api",
                approval_basis="",
            )
        )
    estate["end"] = timezone.now()
    return made


def test_runs_read_for_the_entries_shown_answer_as_every_run_read(estate):
    """The diff reads whether each entry has a run applied without approval in SQL, and the runs themselves
    only for the entries shown (issue 18): flags, counts and runs must be those of reading every run."""
    _unapproved_runs(estate)
    lazy = selectors.estate_diff(estate["start"], estate["end"])
    assert all(entry.loaded_runs is None for entry in lazy.entries)
    flags, counts = [entry.unapproved for entry in lazy.entries], lazy.counts()
    assert counts["without_approval"] == 2
    lazy.load_runs(lazy.entries[:1])
    assert lazy.entries[0].loaded_runs is not None and all(e.loaded_runs is None for e in lazy.entries[1:])

    eager = selectors.estate_diff(estate["start"], estate["end"])
    eager.load_runs()
    assert [entry.unapproved for entry in eager.entries] == flags
    assert eager.counts() == counts
    # reading one entry's runs reads the rest: the same as reading all of them at once
    assert [e.as_dict() for e in lazy.entries] == [e.as_dict() for e in eager.entries]
    assert sum(len(e.runs) for e in eager.entries) >= 6
    # what the exports read: every run with the diff, the flags from the runs themselves
    exported = selectors.estate_diff(estate["start"], estate["end"], runs=True)
    assert all(entry.loaded_runs is not None for entry in exported.entries)
    assert exported.counts() == counts and [e.as_dict() for e in exported.entries] == [
        e.as_dict() for e in eager.entries
    ]


@pytest.mark.parametrize("by_id", [True, False])
def test_every_run_read_with_the_diff_keeps_to_the_entries_and_the_filters(estate, prod_env, monkeypatch, by_id):
    _unapproved_runs(estate)
    from deployments.models import Deployment, Run

    quiet = Deployment.objects.get(name="d5")  # no history row in the window: not an entry, whatever it ran
    Run.objects.create(
        deployment=quiet, action="apply", status="succeeded", bundle_version=quiet.bundle_version, params={}
    )
    estate["end"] = timezone.now()
    for filters in (selectors.EstateFilters(), selectors.EstateFilters(tier=prod_env.tier)):
        shown = selectors.estate_diff(estate["start"], estate["end"], filters)
        shown.load_runs()  # (a few entries: their runs by id)
        # a few entries as many: by the window's deployments touched (filtered) or the whole window's runs
        monkeypatch.setattr(selectors, "RUNS_BY_ID", 1000 if by_id else 0)
        exported = selectors.estate_diff(estate["start"], estate["end"], filters, runs=True)
        monkeypatch.undo()
        assert [e.as_dict() for e in exported.entries] == [e.as_dict() for e in shown.entries]
        assert "d5" not in [e.name for e in exported.entries]
        assert exported.counts() == shown.counts()
    assert selectors.estate_diff(estate["start"], estate["end"], runs=True).counts()["without_approval"] == 2


def test_the_diff_page_and_api_show_the_runs_of_their_entries(estate, auditor):
    _unapproved_runs(estate)
    every = selectors.estate_diff(estate["start"], estate["end"])
    expected = [e.as_dict() for e in every.entries]
    api = APIClient()
    api.force_authenticate(auditor)
    window = {"from": estate["start"].isoformat(), "to": estate["end"].isoformat()}
    first = api.get("/api/v1/audit/diff/", {**window, "limit": 3}).json()
    rest = api.get("/api/v1/audit/diff/", {**window, "limit": 3, "offset": 3}).json()
    assert first["results"] + rest["results"] == expected
    assert first["counts"]["without_approval"] == 2
    client = APIClient()
    client.force_login(auditor)
    page = client.get(reverse("audit:diff"), {"start": estate["start"], "end": estate["end"], "kind": "unapproved"})
    shown = page.context["page"].object_list
    assert [e.as_dict() for e in shown] == [e for e in expected if e["applied_without_approval"]]
    assert all(e.loaded_runs is not None for e in shown)


def test_an_entry_kept_without_its_diff_still_reads_its_runs(estate):
    _unapproved_runs(estate)
    expected = selectors.estate_diff(estate["start"], estate["end"])
    expected.load_runs()
    entries = selectors.estate_diff(estate["start"], estate["end"]).entries  # the diff itself is gone
    assert [[r.as_dict() for r in e.runs] for e in entries] == [[r.as_dict() for r in e.runs] for e in expected.entries]
    assert [e.unapproved for e in entries] == [e.unapproved for e in expected.entries]
