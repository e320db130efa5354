"""``slipway env``: deploy, teardown and diff an environment from the terminal, against a live server, a real
worker and the engine."""

from __future__ import annotations

import json

import pytest

from deployments import services
from deployments.choices import Tier
from deployments.environments.models import EnvironmentRun
from deployments.models import Deployment, Environment
from tests.cli.test_cli import slipway  # noqa: F401  (the fixture)
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def echo(environment, name, message, dev, catalog, bundle="echo"):
    deployment = services.deployment_create(
        environment=environment, name=name, bundle_version=catalog[bundle], params={"message": message}, actor=dev
    )
    wait_for_run(deployment.runs.get(), timeout=180)
    return deployment


def test_env_deploy_and_teardown_follow_the_levels_and_report_a_failure(
    slipway,  # noqa: F811
    celery_worker,
    catalog,
    proto_env,
    dev,
):
    echo(proto_env, "notes", "hello", dev, catalog)
    wire = echo(proto_env, "wire", "trip", dev, catalog, bundle="tripwire")  # the module refuses "trip"
    result = slipway("env", "deploy", "checkout/proto", "--wait", "--reason", "cli")
    assert result.returncode == 1, result.stderr
    assert "deploy of checkout/proto" in result.stdout and "level 1: 1/2 done" in result.stdout
    assert "Stopped at level 1 of 1: wire failed." in result.stdout
    assert result.stderr.startswith("wire failed: ")
    assert EnvironmentRun.objects.get().reason == "cli"

    Deployment.objects.filter(pk=wire.pk).update(params={"message": "fine"})
    result = slipway("env", "deploy", "checkout/proto", "--wait")
    assert result.returncode == 0, result.stderr
    assert "All 2 deployments deployed, in 1 level." in result.stdout

    result = slipway("env", "teardown", "checkout/proto", "--confirm", "nope")
    assert result.returncode == 2 and "Type the environment's name, proto, to confirm." in result.stderr
    result = slipway("env", "teardown", "checkout/proto", "--confirm", "proto", "--wait")
    assert result.returncode == 0, result.stderr
    assert "All 2 deployments destroyed, in 1 level." in result.stdout
    assert set(Deployment.objects.values_list("status", flat=True)) == {"destroyed"}

    status = slipway("env", "status", "checkout/proto", "--json")
    assert json.loads(status.stdout)["action"] == "teardown"


def test_env_diff_prints_what_differs(slipway, catalog, project, proto_env, dev):  # noqa: F811
    staging = Environment.objects.create(project=project, slug="staging", name="Staging", tier=Tier.STAGING)
    for environment, message in ((proto_env, "hello"), (staging, "hello staging")):
        services.deployment_create(
            environment=environment,
            name="notes",
            bundle_version=catalog["echo"],
            params={"message": message},
            actor=dev,
        )
    services.deployment_create(
        environment=staging, name="extra", bundle_version=catalog["echo"], params={"message": "x"}, actor=dev
    )
    result = slipway("env", "diff", "checkout/proto", "checkout/staging")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "only in checkout/staging: extra (echo 1.0.0, deploying)",
        "notes:",
        "  Message (/message): hello | hello staging",
        "(0 deployments the same in both; left of | is checkout/proto, right checkout/staging)",
    ]
    data = json.loads(slipway("env", "diff", "checkout/proto", "checkout/staging", "--json").stdout)
    assert data["only_in_b"][0]["name"] == "extra"
    missing = slipway("env", "diff", "checkout/proto", "checkout/nowhere")
    assert missing.returncode == 2 and "no environment checkout/nowhere that you can see" in missing.stderr


def test_fork_a_preview_deploy_it_and_compare_it(slipway, celery_worker, catalog, proto_env, dev, tmp_path):  # noqa: F811
    """Issue 15's second acceptance, its fork, deploy and compare part, through the CLI."""
    db = services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["datastore"],
        params={"password": "staging-pw-1"},
        actor=dev,
    )
    wait_for_run(db.runs.get(), timeout=180)
    shop = services.deployment_create(
        environment=proto_env,
        name="shop",
        bundle_version=catalog["webapp"],
        params={"replicas": 2},
        actor=dev,
        connections={"database": "orders-db"},
    )
    wait_for_run(shop.runs.get(), timeout=180)

    secret = tmp_path / "password.txt"
    secret.write_text("preview-pw-1\n")  # a secret is read from a file, never written on the command line
    result = slipway("env", "fork", "checkout/proto", "checkout/pr-123", "--set-file", f"orders-db/password={secret}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "checkout/pr-123 forked from checkout/proto: 2 draft deployments"
    preview = Environment.objects.get(slug="pr-123")
    assert set(Deployment.objects.filter(environment=preview).values_list("status", flat=True)) == {"draft"}
    assert Deployment.objects.get(environment=preview, name="orders-db").full_params()["password"] == "preview-pw-1"

    result = slipway("env", "deploy", "checkout/pr-123", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 2 deployments deployed, in 2 levels." in result.stdout
    copy_db, copy_shop = (Deployment.objects.get(environment=preview, name=n) for n in ("orders-db", "shop"))
    assert copy_db.status == copy_shop.status == "live"
    used = copy_shop.runs.get(action="apply", status="succeeded").upstream["database"]
    assert used["deployment"] == str(copy_db.pk)  # the copy's database, not the source's
    db.refresh_from_db()
    assert copy_db.outputs["host"] != db.outputs["host"]

    result = slipway("env", "diff", "checkout/proto", "checkout/pr-123")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "orders-db:",
        "  Password (/password): (sensitive) | (sensitive)",
        "(1 deployment the same in both; left of | is checkout/proto, right checkout/pr-123)",
    ]
