"""``slipway env preview``: a CI job's view of preview environments, against a live server, a real worker and the
engine: ensure (twice: one preview), list, teardown (twice, and of a preview that never existed)."""

from __future__ import annotations

import json

import pytest

from deployments import services
from deployments.models import Deployment, Environment
from tests.cli.test_cli import slipway  # noqa: F401  (the fixture)
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_ci_job_ensures_lists_and_tears_down_a_preview(slipway, celery_worker, catalog, proto_env, dev, tmp_path):  # noqa: F811
    db = services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["datastore"],
        params={"size": "large", "password": "staging-pw-1"},
        actor=dev,
    )
    wait_for_run(db.runs.get(), timeout=180)
    secret = json.dumps({"orders-db": {"/password": "preview-pw-1"}})
    args = ("env", "preview", "ensure", "checkout/proto", "--pr", "42", "--repo", "acme/checkout")

    result = slipway(*args, "--ttl-hours", "6", "--wait", SLIPWAY_PREVIEW_VALUES=secret)
    assert result.returncode == 0, result.stderr
    assert "checkout/pr-42 created: preview of checkout/proto for acme/checkout#42" in result.stdout
    assert "All 1 deployment deployed, in 1 level." in result.stdout
    copy = Deployment.objects.get(environment__slug="pr-42", name="orders-db")
    assert copy.status == "live" and copy.full_params() == {"size": "large", "password": "preview-pw-1"}

    values = tmp_path / "values.json"
    values.write_text(json.dumps({"orders-db": {"/password": "preview-pw-2"}}))
    result = slipway(*args, "--values-file", str(values), "--wait")
    assert result.returncode == 0, result.stderr
    assert "checkout/pr-42 updated" in result.stdout and Environment.objects.filter(is_preview=True).count() == 1
    assert Deployment.objects.get(pk=copy.pk).full_params()["password"] == "preview-pw-2"
    assert "preview-pw" not in result.stdout + result.stderr

    listed = slipway("env", "preview", "list")
    assert listed.returncode == 0 and "checkout/pr-42" in listed.stdout and "acme/checkout#42" in listed.stdout

    down = ("env", "preview", "teardown", "checkout/proto", "--pr", "42", "--repo", "acme/checkout", "--wait")
    result = slipway(*down)
    assert result.returncode == 0, result.stderr
    assert "All 1 deployment destroyed, in 1 level." in result.stdout
    assert Deployment.objects.get(pk=copy.pk).status == "destroyed"
    assert Deployment.objects.get(pk=db.pk).status == "live"  # the source is untouched
    result = slipway(*down)
    assert result.returncode == 0 and "checkout/pr-42 is torn down already" in result.stdout

    result = slipway("env", "preview", "teardown", "checkout/proto", "--pr", "999")
    assert result.returncode == 2 and "No preview of checkout/proto for #999" in result.stderr
    result = slipway("env", "preview", "teardown", "checkout/proto", "--pr", "999", "--missing-ok")
    assert result.returncode == 0, result.stderr


def test_bad_values_are_refused_before_anything_is_asked(slipway, proto_env, tmp_path):  # noqa: F811
    args = ("env", "preview", "ensure", "checkout/proto", "--pr", "1")
    result = slipway(*args, SLIPWAY_PREVIEW_VALUES='{"orders-db": "s3cret"}')
    assert result.returncode == 2 and "values in $SLIPWAY_PREVIEW_VALUES must be" in result.stderr
    assert "s3cret" not in result.stderr
    broken = tmp_path / "values.json"
    broken.write_text("{not json")
    result = slipway(*args, "--values-file", str(broken))
    assert result.returncode == 2 and f"values in {broken} are not JSON" in result.stderr
    result = slipway(*args, "--values-file", str(tmp_path / "missing.json"))
    assert result.returncode == 2 and "cannot read values from" in result.stderr
    result = slipway(*args, "--ttl-hours", "-3")
    assert result.returncode == 2 and "The time to live is 1 to 720 hours (it was -3)." in result.stderr
    assert not Environment.objects.filter(is_preview=True).exists()
