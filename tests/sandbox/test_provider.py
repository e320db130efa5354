"""The sandbox provider under the real engine, with Slipway's own engine environment and CLI config.

The sandbox is the live server in this process; the engine installs the provider offline from the
filesystem mirror that ``install`` fills, as every Slipway run does.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from deployments.runs.engine import engine_binary, engine_env
from portal.sandbox import services
from portal.sandbox.install import PACKAGE_PARENT, install, launcher_text, target_platform
from portal.sandbox.models import Event, Resource

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MODULE = """
terraform {
  required_providers {
    sandbox = { source = "slipway.local/slipway/sandbox" }
  }
}

variable "storage_gb" { default = 20 }
variable "database_name" { default = "app" }
variable "size" { default = "small" }

resource "sandbox_network" "net" {
  name = "test-net"
}

resource "sandbox_database" "db" {
  name          = "test-db"
  size          = var.size
  storage_gb    = var.storage_gb
  database_name = var.database_name
  network_id    = sandbox_network.net.id
  # Unknown while the engine validates (a "not null" bool): the provider must not judge it then.
  high_availability = var.size == "large"
  tags          = { team = "payments" }
}

output "endpoint" { value = sandbox_database.db.endpoint }
output "password" {
  value     = sandbox_database.db.password
  sensitive = true
}
"""


class Workspace:
    """A module directory and the engine, run with the environment Slipway gives every run."""

    def __init__(self, path, env):
        self.path, self.env = path, env

    def run(self, *args, ok=True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [engine_binary(), *args], cwd=self.path, env=self.env, capture_output=True, text=True, timeout=120
        )
        if ok:
            assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def plan(self, *args) -> dict:
        """A saved plan (``plan -out``) read back with ``show -json``, as the runner does."""
        self.run("plan", "-input=false", "-no-color", "-out=plan.bin", *args)
        return json.loads(self.run("show", "-json", "plan.bin").stdout)

    def apply(self, *args, ok=True):
        return self.run("apply", "-input=false", "-no-color", "-auto-approve", *args, ok=ok)

    def database(self) -> Resource:
        return Resource.objects.get(kind="database")


@pytest.fixture
def workspace(live_server, tmp_path, settings):
    settings.SLIPWAY_WORKDIR = tmp_path / "work"
    settings.SLIPWAY_PROVIDER_DIR = tmp_path / "providers"
    settings.SLIPWAY_BASE_URL = live_server.url
    install(settings.SLIPWAY_PROVIDER_DIR)
    module = tmp_path / "module"
    module.mkdir()
    (module / "main.tf").write_text(MODULE)
    ws = Workspace(module, engine_env(module))
    ws.run("init", "-input=false", "-no-color")
    return ws


def changes(plan: dict, key: str = "resource_changes") -> dict[str, dict]:
    return {c["address"]: c["change"] for c in plan.get(key) or []}


def test_it_creates_reads_what_the_cloud_holds_reverts_drift_and_destroys(workspace):
    # init found the provider in Slipway's provider folder, offline.
    assert (workspace.path / ".terraform/providers/slipway.local/slipway/sandbox/1.0.0" / target_platform()).is_dir()

    plan = changes(workspace.plan())
    assert plan["sandbox_database.db"]["actions"] == ["create"]
    assert plan["sandbox_database.db"]["after"]["engine_version"] == "16"  # the cloud's default, shown in the plan
    assert plan["sandbox_database.db"]["after_sensitive"]["password"] is True
    workspace.apply("plan.bin")

    network, database = Resource.objects.get(kind="network"), workspace.database()
    assert database.attributes["network_id"] == network.pk and database.status == "available"
    assert database.tags == {"team": "payments"}
    outputs = json.loads(workspace.run("output", "-json").stdout)
    assert outputs["endpoint"]["value"] == database.computed["endpoint"]
    password = outputs["password"]["value"]
    assert (
        outputs["password"]["sensitive"]
        and hashlib.sha256(password.encode()).hexdigest() == database.secret_digests["password"]
    )

    # Someone changes the storage in the console: a refresh-only plan sees exactly that.
    services.resource_update(resource_id=database.pk, attributes={"storage_gb": 50}, actor="console: ops")
    drift = changes(workspace.plan("-refresh-only"), "resource_drift")
    assert list(drift) == ["sandbox_database.db"]
    assert (
        drift["sandbox_database.db"]["before"]["storage_gb"],
        drift["sandbox_database.db"]["after"]["storage_gb"],
    ) == (
        20,
        50,
    )
    assert drift["sandbox_database.db"]["after"]["password"] == password  # kept from state, never read back

    # Applying the configuration puts the cloud back in line, in place.
    plan = changes(workspace.plan())
    assert plan["sandbox_database.db"]["actions"] == ["update"]
    workspace.apply("plan.bin")
    database = workspace.database()
    assert database.attributes["storage_gb"] == 20 and database.version == 3
    assert Event.objects.filter(resource_id=database.pk).first().actor == "api: terraform-provider-sandbox/1.0.0"
    assert changes(workspace.plan("-refresh-only"), "resource_drift") == {}

    workspace.run("destroy", "-input=false", "-no-color", "-auto-approve")
    assert not Resource.objects.exists()


def test_a_new_database_name_replaces_it_and_one_deleted_outside_is_created_again(workspace):
    workspace.apply()
    first = workspace.database()

    plan = workspace.plan("-var", "database_name=ledger")
    change = next(c for c in plan["resource_changes"] if c["address"] == "sandbox_database.db")
    assert change["change"]["actions"] == ["delete", "create"]
    assert change["change"]["replace_paths"] == [["database_name"]]
    workspace.apply("plan.bin")
    second = workspace.database()
    assert second.pk != first.pk and second.attributes["database_name"] == "ledger"

    services.resource_delete(resource_id=second.pk, actor="console: ops")
    plan = workspace.plan("-var", "database_name=ledger")
    assert changes(plan, "resource_drift")["sandbox_database.db"]["actions"] == ["delete"]
    assert changes(plan)["sandbox_database.db"]["actions"] == ["create"]
    workspace.apply("plan.bin")
    third = workspace.database()
    assert third.pk not in (first.pk, second.pk) and third.attributes["database_name"] == "ledger"


def test_bad_configuration_fails_the_plan_and_an_unreachable_cloud_fails_with_its_address(workspace):
    refused = workspace.run("plan", "-input=false", "-no-color", "-var", "size=huge", ok=False)
    assert refused.returncode == 1
    assert "Invalid sandbox_database.size: must be one of: small, medium, large, xlarge" in refused.stderr

    workspace.env = {k: v for k, v in workspace.env.items() if k != "SANDBOX_TOKEN"}
    unconfigured = workspace.run("plan", "-input=false", "-no-color", ok=False)
    assert "The sandbox provider is not configured" in unconfigured.stderr
    workspace.env["SANDBOX_TOKEN"] = "pasted\nwith a line break"
    mangled = workspace.run("plan", "-input=false", "-no-color", ok=False)
    assert "endpoint or token holds control characters" in mangled.stderr

    workspace.env = engine_env(workspace.path) | {"SANDBOX_ENDPOINT": "http://127.0.0.1:9/sandbox/api/v1/"}
    unreachable = workspace.apply(ok=False)
    assert "The sandbox API at http://127.0.0.1:9/sandbox/api/v1/ cannot be reached" in unreachable.stderr
    assert not Resource.objects.exists()


def test_a_cancelled_apply_still_records_the_resource_the_cloud_is_creating(workspace, settings):
    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 0.5  # the network takes 1.5 s, the database 10 s
    engine = subprocess.Popen(
        [engine_binary(), "apply", "-input=false", "-no-color", "-auto-approve"],
        cwd=workspace.path,
        env=workspace.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = []
    for line in engine.stdout:
        output.append(line)
        if "sandbox_database.db: Creating..." in line:
            # The engine prints this just before it asks the provider: interrupted before the cloud has the
            # database, the engine stops with "execution halted" and nothing to record (seen once in CI).
            deadline = time.monotonic() + 20
            while not Resource.objects.filter(kind="database").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            os.killpg(engine.pid, signal.SIGINT)  # what the runner's cancel sends to the engine's group
            break
    output += engine.stdout.readlines()
    assert engine.wait(timeout=30) != 0
    assert "Interrupted while" in "".join(output)
    # The database exists in the cloud, still being created, and the state knows it: nothing is orphaned.
    database = workspace.database()
    assert database.status == "creating"
    state = json.loads(workspace.run("show", "-json").stdout)["values"]["root_module"]["resources"]
    assert {r["address"]: r["values"]["id"] for r in state}["sandbox_database.db"] == database.pk


def test_the_launcher_is_installed_once_and_runs_the_provider_without_django(tmp_path):
    path, written = install(tmp_path)
    assert written and path.read_text() == launcher_text() and path.stat().st_mode & 0o111
    assert install(tmp_path) == (path, False)
    path.write_text("#!/bin/sh\nexit 1\n")  # an older or damaged copy is replaced
    assert install(tmp_path) == (path, True)
    # The provider process imports the sandbox package alone: no Django, no Celery, nothing of Slipway's.
    probe = (
        f"import sys; sys.path.append({str(PACKAGE_PARENT)!r}); import sandbox.provider; "
        "print(sorted(m for m in ('django', 'celery', 'portal') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
