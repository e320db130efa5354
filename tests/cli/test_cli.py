"""The ``slipway`` command against a live server, a real worker and the real engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import uuid

import pytest

from deployments.models import Deployment, Run
from portal.models import APIToken
from tests.conftest import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def slipway(live_server, dev, tmp_path):
    """Run the CLI as a user would: its own process, no Django settings, URL and token from the environment."""
    _, key = APIToken.issue(user=dev, name="cli tests")
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(SLIPWAY_URL=live_server.url, SLIPWAY_TOKEN=key, XDG_CONFIG_HOME=str(tmp_path / "config"))

    def run(*args, stdin: str | None = None, timeout: float = 180, **overrides) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "portal.cli", *args],
            cwd=ROOT,
            env={**env, **overrides},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    run.key = key
    run.url = live_server.url
    return run


def test_the_console_script_is_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["slipway"] == "portal.cli:main"


def test_deploy_with_wait_streams_progress_and_exits_0(slipway, celery_worker, catalog, proto_env):
    result = slipway("deploy", "queue", "--project", "checkout", "--env", "proto", "--name", "jobs", "--wait")

    assert result.returncode == 0, result.stderr
    assert "Apply complete!" in result.stdout
    progress = [line for line in result.stderr.splitlines() if line.startswith("progress:")]
    assert progress, result.stderr
    assert "[" in progress[-1] and "resources" in progress[-1]
    done, planned = progress[-1].split("] ")[1].split(" resources")[0].split("/")
    assert int(done) == int(planned) > 0
    deployment = Deployment.objects.get(name="jobs")
    assert deployment.status == "live"
    assert f"run #{deployment.runs.get().pk} succeeded" in result.stdout


def test_invalid_params_exit_2_with_the_field_errors(slipway, catalog, proto_env):
    result = slipway(
        "deploy",
        "queue",
        "--project",
        "checkout",
        "--env",
        "proto",
        "--params",
        "-",
        stdin=json.dumps({"retention_days": 99, "type": "lifo"}),
    )

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "/params/retention_days" in lines[0] and "/params/type" in lines[0]
    assert not Deployment.objects.exists()


def test_params_that_are_not_json_exit_2_before_calling_the_server(slipway, tmp_path, catalog, proto_env):
    bad = tmp_path / "params.json"
    bad.write_text("{retention_days: 3}")
    result = slipway("deploy", "queue", "--project", "checkout", "--env", "proto", "--params", str(bad))
    assert result.returncode == 2
    assert "not JSON" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_runs_logs_follow_ends_when_the_run_ends(slipway, celery_worker, catalog, proto_env):
    created = slipway(
        "deploy", "echo", "--project", "checkout", "--env", "proto", "--params", "-", stdin='{"message": "hi"}'
    )
    assert created.returncode == 0, created.stderr
    run = Run.objects.get(deployment__name="echo")

    followed = slipway("runs", "logs", str(run.pk), "--follow", timeout=120)

    assert followed.returncode == 0, followed.stderr
    run.refresh_from_db()
    assert run.status == "succeeded"
    # Every line of the run, in order, each once.
    texts = list(run.log_lines.order_by("seq").values_list("text", flat=True))
    assert followed.stdout.splitlines()[: len(texts)] == texts
    assert followed.stdout.strip().endswith(f"run #{run.pk} succeeded")


def test_a_failed_run_exits_1(slipway, celery_worker, catalog, proto_env):
    # tripwire's module refuses the message "trip" when it plans, though the schema accepts it.
    result = slipway(
        "deploy", "tripwire", "--project", "checkout", "--env", "proto", "--params", "-", "--wait",
        stdin='{"message": "trip"}',
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("slipway: run #") and "failed" in last


def test_login_saves_the_url_and_token_for_later_commands(slipway, tmp_path, catalog):
    login = slipway("login", "--url", slipway.url, "--token", slipway.key, SLIPWAY_URL="", SLIPWAY_TOKEN="")
    assert login.returncode == 0, login.stderr
    config = tmp_path / "config" / "slipway" / "config.toml"
    assert tomllib.loads(config.read_text()) == {"url": slipway.url, "token": slipway.key}
    assert oct(config.stat().st_mode & 0o777) == "0o600"

    listed = slipway("bundles", "list", SLIPWAY_URL="", SLIPWAY_TOKEN="")
    assert listed.returncode == 0, listed.stderr
    assert "postgres" in listed.stdout and "queue" in listed.stdout


def test_login_refuses_a_wrong_token(slipway):
    result = slipway("login", "--url", slipway.url, "--token", "slw_wrong")
    assert result.returncode == 2
    assert "Invalid or revoked token" in result.stderr


def test_without_a_server_configured_it_says_how_to_log_in(slipway):
    result = slipway("bundles", "list", SLIPWAY_URL="", SLIPWAY_TOKEN="")
    assert result.returncode == 2
    assert "slipway login" in result.stderr


def test_bundles_show_documents_the_params(slipway, catalog):
    result = slipway("bundles", "show", "queue")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "type (string, optional, immutable): Queue type" in out
    assert '"standard" (Standard: nearly unlimited throughput' in out
    assert "retention_days (integer, optional): Keep unread messages for" in out
    assert ">= 1; <= 14; unit days; default 4" in out
    assert "Prototype (~$1/month)" in out

    missing = slipway("bundles", "show", "nope")
    assert missing.returncode == 2 and "404" not in missing.stdout


def test_deployments_list_show_plan_and_destroy(slipway, celery_worker, catalog, proto_env):
    created = slipway(
        "deploy", "echo", "--project", "checkout", "--env", "proto", "--params", "-", "--wait",
        stdin='{"message": "hi"}',
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    deployment = Deployment.objects.get(name="echo")

    listed = slipway("deployments", "list", "--project", "checkout")
    assert listed.returncode == 0 and str(deployment.pk) in listed.stdout

    shown = slipway("deployments", "show", "checkout/proto/echo", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == str(deployment.pk)

    planned = slipway("deployments", "plan", str(deployment.pk), "--wait")
    assert planned.returncode == 0, planned.stderr
    assert "Plan: no changes to resources." in planned.stdout
    assert planned.stdout.strip().endswith("succeeded")

    refused = slipway("deployments", "destroy", str(deployment.pk), "--confirm", "wrong-name")
    assert refused.returncode == 2 and "/confirm" in refused.stderr

    destroyed = slipway("deployments", "destroy", "checkout/proto/echo", "--confirm", "echo", "--wait")
    assert destroyed.returncode == 0, destroyed.stderr
    deployment.refresh_from_db()
    assert deployment.status == "destroyed"


def test_audit_diff_lists_what_changed(slipway, auditor, catalog, proto_env, dev):
    from deployments import services

    services.deployment_create(
        environment=proto_env, name="diffed", bundle_version=catalog["echo"], params={"message": "a"}, actor=dev
    )
    _, key = APIToken.issue(user=auditor, name="audit")
    result = slipway(
        "audit", "diff", "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", SLIPWAY_TOKEN=key
    )
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout
    assert "diffed" in result.stdout

    as_json = slipway(
        "audit", "diff", "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "--json", SLIPWAY_TOKEN=key
    )
    assert json.loads(as_json.stdout)["results"][0]["name"] == "diffed"

    bad = slipway("audit", "diff", "--from", "yesterday-ish", "--to", "2100-01-01T00:00:00Z", SLIPWAY_TOKEN=key)
    assert bad.returncode == 2 and "/from" in bad.stderr


def test_estate_query_prints_a_table_or_json(slipway, catalog, proto_env, dev):
    from deployments import services

    found = services.deployment_create(
        environment=proto_env, name="found", bundle_version=catalog["echo"], params={"message": "a"}, actor=dev
    )
    services.deployment_create(
        environment=proto_env, name="other", bundle_version=catalog["queue"], params={}, actor=dev
    )
    table = slipway("estate", "query", "bundle:echo")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.strip().splitlines()
    assert header.split()[:4] == ["ID", "PROJECT", "ENVIRONMENT", "NAME"]
    assert len(rows) == 1 and rows[0].split()[:4] == [str(found.pk), "checkout", "proto", "found"]

    as_json = slipway("estate", "query", "bundle:echo", "--json")
    assert [row["name"] for row in json.loads(as_json.stdout)["results"]] == ["found"]

    bad = slipway("estate", "query", "bundle:")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "/q" in bad.stderr


def test_the_same_idempotency_key_never_deploys_twice(slipway, catalog, proto_env):
    key = str(uuid.uuid4())
    args = ("deploy", "echo", "--project", "checkout", "--env", "proto", "--params", "-", "--idempotency-key", key)
    first = slipway(*args, stdin='{"message": "once"}')
    again = slipway(*args, stdin='{"message": "once"}')
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert first.stdout == again.stdout
    assert Deployment.objects.count() == 1 and Run.objects.count() == 1


def test_deploy_names_connections_show_prints_them_and_apply_rewires_them(slipway, catalog, proto_env, dev):
    from tests.deployments.test_connections import create, live

    first = live(create(proto_env, catalog, "datastore", "first-db", dev))
    second = live(create(proto_env, catalog, "datastore", "second-db", dev))
    where = ("--project", "checkout", "--env", "proto")

    created = slipway("deploy", "webapp", *where, "--name", "shop", "--connect", "database=first-db")
    assert created.returncode == 0, created.stderr
    shop = Deployment.objects.get(name="shop")
    assert shop.connections == {"database": str(first.pk)}

    shown = slipway("deployments", "show", "checkout/proto/shop")
    assert shown.returncode == 0, shown.stderr
    assert "connections:    database -> checkout/proto/first-db (live)" in shown.stdout
    assert json.loads(slipway("deployments", "show", "checkout/proto/shop", "--json").stdout)["connections"] == {
        "database": str(first.pk)
    }

    live(shop)
    moved = slipway("deployments", "apply", "checkout/proto/shop", "--connect", "database=checkout/proto/second-db")
    assert moved.returncode == 0, moved.stderr
    shop.refresh_from_db()
    assert shop.connections == {"database": str(second.pk)} and shop.version == 2

    unknown = slipway("deploy", "webapp", *where, "--name", "other", "--connect", "database=nothing")
    assert unknown.returncode == 2
    assert "/connections/database: Database: there is no deployment 'nothing' in checkout/proto." in unknown.stderr
    malformed = slipway("deploy", "webapp", *where, "--name", "other", "--connect", "database")
    assert malformed.returncode == 2 and "write NAME=DEPLOYMENT" in malformed.stderr
    assert not Deployment.objects.filter(name="other").exists()


def test_env_graph_prints_the_environment_as_text_and_as_dot(slipway, catalog, proto_env, dev):
    from tests.deployments.test_connections import create, live

    live(
        create(proto_env, catalog, "network", "main-net", dev), specs={"network_id": "n-1", "cidr_block": "10.0.0.0/16"}
    )
    live(create(proto_env, catalog, "postgres", "orders-db", dev))
    create(
        proto_env,
        catalog,
        "web-service",
        "checkout-web",
        dev,
        params={"image": "ghcr.io/acme/checkout:1.4.2"},
        connections={"database": "orders-db"},
    )

    text = slipway("env", "graph", "checkout/proto")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "checkout/proto: 3 deployments, 2 connections"
    assert lines[1].startswith("checkout-web  web-service 2.4.0  deploying  run #")
    assert lines[2:5] == [
        "                database -> orders-db (postgresql)",
        "                network -> main-net (network)",
        "                not connected: assets, jobs",
    ]
    # (their first applies are still queued: no worker here)
    network = catalog["network"].version
    assert lines[5].startswith(f"main-net      network {network}  live  default network  run #")
    assert lines[6].startswith(f"orders-db     postgres {catalog['postgres'].version}  live  run #")

    dot = slipway("env", "graph", "checkout/proto", "--format", "dot")
    assert dot.returncode == 0, dot.stderr
    assert dot.stdout.startswith('digraph "checkout/proto" {')
    assert '"checkout-web" -> "orders-db" [label="postgresql (database)"];' in dot.stdout
    assert f'"main-net" [label="main-net\\nnetwork {network}\\nlive"];' in dot.stdout

    unknown = slipway("env", "graph", "checkout/nowhere")
    assert unknown.returncode == 2 and "no environment checkout/nowhere that you can see" in unknown.stderr


def test_costs_prints_each_team_and_the_biggest_deployments(slipway, catalog, proto_env, dev):
    from deployments import services

    services.deployment_create(
        environment=proto_env, name="orders-db", bundle_version=catalog["postgres"], params={}, actor=dev
    )
    table = slipway("costs")
    assert table.returncode == 0, table.stderr
    assert "payments" in table.stdout and "54.30 USD" in table.stdout and "checkout/proto/orders-db" in table.stdout
    as_json = json.loads(slipway("costs", "--by", "environment", "--json").stdout)
    assert [(g["key"], g["monthly"]) for g in as_json["groups"]] == [("checkout/proto", "54.30")]
