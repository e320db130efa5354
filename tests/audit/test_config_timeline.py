"""The timeline also says who changed who may deploy where, under which policy and from which bundles."""

import json

import pytest
from django.urls import reverse

from deployments.policy import rules as policy
from portal.history import record_change
from portal.models import Membership

pytestmark = pytest.mark.django_db


def timeline(client, **filters) -> list[dict]:
    response = client.get(reverse("audit:timeline"), {**filters, "format": "json"})
    assert response.status_code == 200
    return json.loads(b"".join(response.streaming_content))["timeline"]


def test_a_policy_change_shows_who_why_and_what_changed(client, auditor, ops, catalog, prod_env):
    current = policy.policy_for(prod_env)
    current.overlays = {"postgres": {"properties": {"high_availability": {"const": True}}}}
    record_change(current, channel="admin", actor=ops, note="production databases need a standby")
    current.full_clean()
    current.save()

    client.force_login(auditor)
    rows = timeline(client, event_type="policy.changed")
    assert [(r["kind"], r["actor"], r["channel"], r["tier"], r["team"]) for r in rows] == [
        ("config", "ops", "admin", "production", prod_env.project.team.slug)
    ]
    assert rows[0]["name"] == f"{prod_env.project.slug}/{prod_env.slug} policy v{current.version}"
    assert "production databases need a standby" in rows[0]["detail"]

    # The page's filters apply to configuration as to deployments.
    assert timeline(client, event_type="policy.changed", tier="production") == rows
    assert timeline(client, event_type="policy.changed", tier="prototype") == []
    assert timeline(client, event_type="policy.changed", bundle="postgres") == []  # a policy is no bundle's
    assert timeline(client, event_type="policy.changed", actor="dev") == []

    detail_url = reverse("audit:config", args=["policy", rows[0]["id"]])
    listing = client.get(reverse("audit:timeline"), {"event_type": "policy.changed"}).content.decode()
    assert detail_url in listing and "production databases need a standby" in listing
    detail = client.get(detail_url).content.decode()
    assert "overlays.postgres" in detail and "high_availability" in detail  # the overlay added, key by key
    assert "version" in detail and "production databases need a standby" in detail
    assert client.get(reverse("audit:config", args=["policy", 999999])).status_code == 404
    assert client.get(reverse("audit:config", args=["nothing", rows[0]["id"]])).status_code == 404


def test_who_joined_a_team_is_in_that_teams_timeline(client, auditor, ops, team, other_team, outsider):
    joined = Membership(user=outsider, team=team, role="member")
    record_change(joined, channel="admin", actor=ops, note="joins the payments on-call rota")
    joined.save()

    client.force_login(auditor)
    mine = [r for r in timeline(client, team=team.slug, event_type="membership.created") if "rota" in r["detail"]]
    assert [(r["name"], r["actor"], r["channel"]) for r in mine] == [
        (f"{team.slug}: outsider as member", "ops", "admin")
    ]
    created = client.get(reverse("audit:config", args=["membership", mine[0]["id"]])).content.decode()
    assert 'class="change-added"><td><code>role</code>' in created and "change-changed" not in created
    theirs = timeline(client, team=other_team.slug, event_type="membership.created")
    assert all("rota" not in r["detail"] for r in theirs)
    # Deployment-only filters leave configuration out, rather than show it unfiltered.
    assert timeline(client, event_type="membership.created", tier="production") == []


def test_a_filter_that_cannot_be_read_lists_nothing_and_says_why(client, auditor, team):
    client.force_login(auditor)
    page = client.get(reverse("audit:timeline"), {"start": "the day the music died", "team": team.slug})
    html = page.content.decode()
    assert page.status_code == 400 and "Nothing is listed until the filters above can be read." in html
    assert "<tbody>" not in html
    export = client.get(reverse("audit:timeline"), {"event_type": "bogus", "format": "csv"})
    assert export.status_code == 400 and "event_type" in export.content.decode()
