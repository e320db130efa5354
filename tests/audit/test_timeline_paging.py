"""The timeline page reads only as far as the page asked for (issue 18): each part's newest rows, and a
count that stops past them. Its pages are the slices of the whole timeline, in the same order, under
every filter; its count is exact up to the cap and says "more than" beyond it."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.selectors import CONFIG_MODELS, TimelineFilters, TimelineRows, timeline, timeline_event_types
from audit.selectors.timeline import HISTORY_EVENT_TYPES
from audit.services import audit_event_record
from deployments.models import Deployment
from portal.history import record_change
from portal.models import Team

pytestmark = pytest.mark.django_db
# The count stops at a cap where the database can limit inside a compound query (PostgreSQL); SQLite counts all.
capped_count = pytest.mark.skipif(
    not connection.features.supports_slicing_ordering_in_compound, reason="SQLite counts the whole timeline"
)


@pytest.fixture
def recorded(catalog, proto_env, prod_env, other_env, ops):
    """Deployments with a few changes each, audit events about them, and configuration changes."""
    made = []
    for i in range(12):
        env = (proto_env, prod_env, other_env)[i % 3]
        deployment = Deployment(environment=env, name=f"t{i}", bundle_version=catalog["echo"], params={"message": "a"})
        record_change(deployment, channel="ui", actor=ops if i % 2 else None, note=f"made {i}")
        deployment.save()
        deployment.params = {"message": f"b{i}"}
        record_change(deployment, channel="api", actor=ops, note=f"changed {i}")
        deployment.save()
        audit_event_record(event_type="run.succeeded", actor=ops, target=deployment, data={"run": i})
        made.append(deployment)
    Team.objects.create(slug="late", name="Late")
    return made


def _filters(recorded, proto_env):
    now = timezone.now()
    return [
        TimelineFilters(),
        TimelineFilters(tier=proto_env.tier),
        TimelineFilters(team=proto_env.project.team.slug),
        TimelineFilters(project=proto_env.project.slug),
        TimelineFilters(bundle="echo"),
        TimelineFilters(actor="ops"),
        TimelineFilters(event_type="deployment.changed"),
        TimelineFilters(event_type="run.succeeded"),
        TimelineFilters(event_type="team.created"),
        TimelineFilters(deployment=str(recorded[4].pk)),
        TimelineFilters(start=now - timezone.timedelta(hours=1), end=now + timezone.timedelta(hours=1)),
        TimelineFilters(end=now - timezone.timedelta(days=1)),
    ]


def test_each_page_is_the_slice_of_the_whole_timeline(recorded, proto_env):
    for filters in _filters(recorded, proto_env):
        whole = list(timeline(filters))
        rows = TimelineRows(filters)
        assert rows.count() == len(whole) and not rows.capped, filters
        for size in (1, 7, 50):
            pages = Paginator(rows, size)
            read = [row for n in pages.page_range for row in pages.page(n).object_list]
            assert read == whole, (filters, size)
    assert len(list(timeline())) > 40  # the estate above is not trivially small


@capped_count
def test_the_count_stops_at_the_cap_and_says_so(recorded, monkeypatch):
    whole = list(timeline())
    monkeypatch.setattr(TimelineRows, "COUNT_CAP", 10)
    rows = TimelineRows(TimelineFilters())
    assert rows.count() == 11 and rows.capped and rows.more_than == 10
    # A page beyond the cap counts as far as that page and one more row.
    far = TimelineRows(TimelineFilters(), reach=30)
    assert far.count() == 31 and far.capped
    assert far[20:30] == whole[20:30]
    exact = TimelineRows(TimelineFilters(), reach=len(whole) + 50)
    assert exact.count() == len(whole) and not exact.capped


@capped_count
def test_the_page_pages_past_the_cap(client, auditor, recorded, monkeypatch):
    whole = list(timeline())
    assert len(whole) > 50
    monkeypatch.setattr(TimelineRows, "COUNT_CAP", 10)
    client.force_login(auditor)
    url = reverse("audit:timeline")
    first = client.get(url)
    assert first.status_code == 200
    assert [e.pk for e in first.context["entries"]] == [r["t_pk"] for r in whole[:50]]
    body = first.content.decode()
    assert "more than 50 in all" in body and "page=2" in body  # the cap, or as far as the page
    second = client.get(url, {"page": 2})
    assert [e.pk for e in second.context["entries"]] == [r["t_pk"] for r in whole[50:100]]
    assert "Older" not in second.content.decode() or len(whole) > 100
    # Past the end: the last page, as before.
    beyond = client.get(url, {"page": 99})
    assert beyond.context["page"].number == (len(whole) + 49) // 50
    assert f"{len(whole)} in all" in beyond.content.decode()


def test_under_the_cap_the_page_counts_exactly(client, auditor, recorded):
    client.force_login(auditor)
    whole = list(timeline())
    response = client.get(reverse("audit:timeline"))
    assert f"Page 1 of {(len(whole) + 49) // 50} · {len(whole)} in all" in response.content.decode()
    assert client.get(reverse("audit:timeline"), {"page": "x"}).context["page"].number == 1


def test_the_event_types_offered_are_those_recorded_and_the_history_kinds(recorded, ops):
    audit_event_record(event_type="secret.revealed", actor=ops, target=recorded[0])
    audit_event_record(event_type="a.first", actor=ops)
    recorded_types = set(AuditEvent.objects.values_list("event_type", flat=True))
    kinds = set(HISTORY_EVENT_TYPES) | {t for c in CONFIG_MODELS for t in c.event_types()}
    assert timeline_event_types() == sorted(recorded_types | kinds)
    assert {"a.first", "secret.revealed", "run.succeeded"} <= recorded_types
