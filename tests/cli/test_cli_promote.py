"""``slipway env promote``: fork staging into a preview, change a param there, promote it back to staging through
the policy path, from the terminal, against a live server, a real worker and the engine (issue 15's second
acceptance, its promote part)."""

from __future__ import annotations

import json

import pytest

from deployments import services
from deployments.choices import Tier
from deployments.models import Deployment, Environment
from tests.cli.test_cli import slipway  # noqa: F401  (the fixture)
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_promote_a_change_from_a_preview_back_to_staging(slipway, celery_worker, catalog, project, dev):  # noqa: F811
    staging = Environment.objects.create(project=project, slug="staging", name="Staging", tier=Tier.STAGING)
    notes = services.deployment_create(
        environment=staging, name="notes", bundle_version=catalog["echo"], params={"message": "v1"}, actor=dev
    )
    wait_for_run(notes.runs.get(), timeout=180)
    result = slipway("env", "fork", "checkout/staging", "checkout/pr-7")
    assert result.returncode == 0, result.stderr
    result = slipway("env", "deploy", "checkout/pr-7", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    preview = Deployment.objects.get(environment__slug="pr-7", name="notes")
    run = services.deployment_update(deployment=preview, params={"message": "v2", "copies": 2}, actor=dev)
    wait_for_run(run, timeout=180)

    refused = slipway("env", "promote", "checkout/pr-7", "checkout/staging", stdin="")
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert refused.stdout.splitlines() == [
        "Promote checkout/pr-7 to checkout/staging:",
        "notes (change): within the policy: it goes through",
        "  Message (/message): v1 -> v2",
        "  Copies (/copies): 1 (default) -> 2",
    ]
    result = slipway("env", "promote", "checkout/pr-7", "checkout/staging", "--yes", "--reason", "tested in pr-7")
    assert result.returncode == 0, result.stderr
    last = result.stdout.splitlines()[-1]
    assert last.startswith("notes: changed: Changed in checkout/staging; run #")
    notes.refresh_from_db()
    assert notes.params == {"message": "v2", "copies": 2}
    row = notes.history.latest()
    assert row.history_basis.startswith("promoted from checkout/pr-7/notes by dev; approved by policy")
    assert row.history_change_reason == "promoted from checkout/pr-7/notes by dev: tested in pr-7"
    wait_for_run(notes.runs.latest("created_at"), timeout=180)

    same = slipway("env", "diff", "checkout/pr-7", "checkout/staging")
    assert "are the same" in same.stdout, same.stdout
    again = slipway("env", "promote", "checkout/pr-7", "checkout/staging", "--deployment", "notes", "--json")
    body = json.loads(again.stdout)
    assert again.returncode == 0 and body["promoted"] is None
    assert [d["verdict"] for d in body["plan"]["deployments"]] == ["unchanged"]
    missing = slipway("env", "promote", "checkout/pr-7", "checkout/staging", "--deployment", "nope", "--yes")
    assert missing.returncode == 2 and "has no deployment 'nope'" in missing.stderr
