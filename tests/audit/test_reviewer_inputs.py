"""The reviewer pages read moments as people say them ("yesterday", "2 hours ago"), keep every other filter
when one cannot be read, and export the estate as of a moment as CSV or JSON (issue 19)."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.forms import WhenField, relative_moment
from deployments import services

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("now", NOW),
        ("today", datetime(2026, 12, 3, tzinfo=UTC)),
        ("Yesterday", datetime(2026, 12, 2, tzinfo=UTC)),
        ("2 hours ago", NOW - timedelta(hours=2)),
        ("an hour ago", NOW - timedelta(hours=1)),
        ("90 minutes ago", NOW - timedelta(minutes=90)),
        ("3 days ago", NOW - timedelta(days=3)),
        ("1 week ago", NOW - timedelta(weeks=1)),
        ("2h ago", NOW - timedelta(hours=2)),
        ("2 hours", None),
        ("tomorrow", None),
        ("2026-12-01", None),
    ],
)
def test_a_moment_relative_to_now(typed, expected):
    assert relative_moment(typed, now=NOW) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # "+02:00" typed into a query string by hand (curl, a script) arrives as " 02:00"
        ("2026-05-18T10:00:00 02:00", datetime(2026, 5, 18, 8, tzinfo=UTC)),
        ("2026-05-18 10:00:00.250000 0000", datetime(2026, 5, 18, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-05-18T10:00:00+02:00", datetime(2026, 5, 18, 8, tzinfo=UTC)),
        ("2026-05-18T10:00:00-02:00", datetime(2026, 5, 18, 12, tzinfo=UTC)),
        ("2026-05-18 10:00", datetime(2026, 5, 18, 10, tzinfo=UTC)),
    ],
)
def test_a_moment_with_an_offset_reads_as_written(typed, expected):
    assert WhenField().clean(typed) == expected


@pytest.mark.parametrize("typed", ["2026-05-01 10:00 23:59", "2026-05-01T10:00 15:00", "2026-05-01 10:00 10:75"])
def test_two_times_are_not_read_as_a_time_and_an_offset(typed):
    with pytest.raises(ValidationError):
        WhenField().clean(typed)


@pytest.fixture
def orders(dev, catalog, proto_env):
    return services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["workbench"],
        params={"message": "hi"},
        actor=dev,
    )


def test_as_of_reads_relative_moments(client, auditor, orders):
    client.force_login(auditor)
    earlier = client.get(reverse("audit:as-of"), {"at": "2 hours ago"}).content.decode()
    assert "orders-db" not in earlier.split("<tbody>")[-1] and "No deployment existed at that moment" in earlier
    now = client.get(reverse("audit:as-of"), {"at": "now"}).content.decode()
    assert "orders-db" in now.split("<tbody>")[1]
    picked = client.get(
        reverse("audit:as-of"), {"at_pick": (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")}
    )
    assert "No deployment existed at that moment" in picked.content.decode()
    # The API reads them too.
    api = client.get("/api/v1/audit/as-of/", {"at": "yesterday"})
    assert api.status_code == 200 and api.json()["count"] == 0


def test_a_moment_that_cannot_be_read_keeps_the_other_filters(client, auditor, orders, dev, catalog, proto_env):
    services.deployment_create(
        environment=proto_env, name="billing", bundle_version=catalog["workbench"], params={"message": "x"}, actor=dev
    )
    client.force_login(auditor)
    page = client.get(reverse("audit:as-of"), {"at": "last tuesday-ish", "name": "orders"}).content.decode()
    assert "As of</label>: Enter a date and time" in page and "2 hours ago" in page
    rows = page.split("<tbody>")[1]
    assert "orders-db" in rows and "billing" not in rows  # the name filter still applies
    assert 'value="orders"' in page and 'value="last tuesday-ish"' in page  # the form as asked


def test_the_estate_as_of_a_moment_exports_as_csv_and_json(client, auditor, orders):
    client.force_login(auditor)
    response = client.get(reverse("audit:as-of"), {"at": "now", "format": "csv"})
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["name"], r["bundle"], r["status"], json.loads(r["params"])) for r in rows] == [
        ("orders-db", "workbench", orders.status, {"message": "hi"})
    ]
    body = json.loads(b"".join(client.get(reverse("audit:as-of"), {"format": "json"}).streaming_content))
    assert body["export"] == "as-of" and [r["name"] for r in body["as-of"]] == ["orders-db"]
    page = client.get(reverse("audit:as-of")).content.decode()
    assert "format=csv" in page and "format=json" in page
