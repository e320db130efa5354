"""Contract fuzzing: schemathesis drives every operation of /api/schema/ against a live server.

It runs the `st` command line against pytest-django's live server, on seeded data (the catalog,
a team's project with environments, a deployment with a finished run, a held exception), with an
ops token, so that every operation reaches its success path rather than a 401, 403 or 404. The
stateful phase follows the OpenAPI links the schema declares (created deployment -> its runs ->
logs, cancel, ...). Every check schemathesis has runs (``--checks all``): any 5xx, any response that
does not match the schema, an undocumented status code, content type or header, invalid data
accepted (``negative_data_rejection``: a body, path or query value the schema forbids must be a
4xx), valid data refused with an undocumented status, a deleted resource still served, a missing
auth header ignored, and so on, fails the test. The settings are pinned (seed, examples per
operation, one worker, no shrinking) so each run is reproducible.

What keeps it to about two minutes, and why nothing it covers is lost:

- One token, ops. A developer's token reaches a subset of the operations (the ops-only ones answer
  403); every request passes the same parsers, filters, serializers and services whichever token
  sends it, so a second run with a developer's token repeated the same hostile inputs on fewer
  success paths. Who may see and do what is tests/portal/test_access_matrix.py's job, route by route.
- The coverage phase, which generates the hostile classes deterministically (each wrong JSON type,
  values below and above each bound, outside each enum and pattern, missing required and unexpected
  properties, malformed and unsupported content types, undeclared methods), runs whole; undeclared
  methods are tried with two verbs instead of six, as DRF answers every undeclared method through
  the same dispatch.
- The random fuzzing phase draws FUZZING_EXAMPLES cases per operation (it was 15; the coverage phase
  already walks every boundary, the fuzzing phase adds random combinations); the stateful phase, which
  is cheap, keeps its 15 scenarios.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deployments import services
from deployments.models import ExceptionRequest
from portal.models import APIToken

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHECKS = "all"
# Valid by the schema is not always acceptable to the service: an environment id that does not exist, params
# the bundle refuses, a run already finished. Those answer 400, 409 or 422 in the documented error format.
# Speed is bench/'s job, not this test's: `--checks all` turns on a 10 s response-time limit (ST112), and once, on
# a CI machine loaded with every other test, a 400 that no query precedes took 28 s. The limit is the request
# timeout instead, so only a request that never answers fails here.
CONFIG = """
[checks]
max_response_time = {timeout}

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422"]

[phases.coverage]
unexpected-methods = ["PUT", "DELETE"]

[phases.fuzzing.generation]
max-examples = {fuzzing}

[phases.stateful.generation]
max-examples = {stateful}
"""
SEED = 20260501
FUZZING_EXAMPLES = 5  # per operation
STATEFUL_EXAMPLES = 15  # scenarios along the links (create, read, act, delete, read again)
REQUEST_TIMEOUT = 30  # seconds


def st_command() -> list[str]:
    local = Path(sys.executable).with_name("st")
    if local.exists():
        return [str(local)]
    found = shutil.which("st")
    assert found, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    return [found]


@pytest.fixture
def seeded(dev, ops, catalog, proto_env, prod_env, other_env):
    deployment = services.deployment_create(
        environment=proto_env, name="seeded", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )
    run = deployment.runs.get()
    run.transition("running")
    run.transition("succeeded")
    ExceptionRequest.objects.create(
        environment=proto_env,
        bundle_version=catalog["echo"],
        name="asked",
        params={"message": "x"},
        violations={},
        fields=[],
        policy_version=1,
        reason="seeded",
        requested_by_name="dev",
    )
    return APIToken.issue(user=ops, name="schemathesis")[1]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, seeded, tmp_path):
    report = tmp_path / "report.json"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(fuzzing=FUZZING_EXAMPLES, stateful=STATEFUL_EXAMPLES, timeout=REQUEST_TIMEOUT))
    command = [
        *st_command(),
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Token {seeded}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    started = time.monotonic()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=480, cwd=tmp_path, env={**os.environ, "SCHEMATHESIS_HOOKS": ""}
    )
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.log").write_text(output)
    sys.stdout.write(f"\n--- schemathesis ({took:.0f}s, full log {tmp_path / 'schemathesis.log'}) ---\n")
    sys.stdout.write(output[-3000:] + "\n")
    assert result.returncode == 0, output[-20000:]
    events = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    assert events, "schemathesis wrote no report"
