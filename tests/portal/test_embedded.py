"""`make run`'s embedded configuration (SQLite + filesystem broker, nothing else running) deploys a bundle."""

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import ROOT, stop_process

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("embedded")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(SLIPWAY_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="portal.settings", DEBUG="1")
    # The catalog deploys into the sandbox cloud, served by this web process from the same SQLite file:
    # short but real waits, so the provider polls while the worker writes.
    env.update(SLIPWAY_SANDBOX_DELAY_SCALE="0.1", SLIPWAY_SANDBOX_TOKEN="embedded-sandbox-token")
    manage = [sys.executable, "manage.py"]

    def run(*args):
        return subprocess.run([*manage, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout

    run("migrate", "--noinput")
    seeded = run("seed_demo", "--password", "embedded-pass")
    token = run("create_api_token", "dev").strip()
    port = free_port()
    env["SLIPWAY_BASE_URL"] = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [
        subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=open(logs / "web.log", "w"),  # noqa: SIM115 (held open while the process runs)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=1", "--loglevel=INFO"],
            cwd=ROOT,
            env=env,
            stdout=open(logs / "worker.log", "w"),  # noqa: SIM115 (held open while the process runs)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    yield {"base": base, "token": token, "seeded": seeded, "var": tmp_path / "var", "logs": logs}
    for proc in procs:
        stop_process(proc)


def test_the_embedded_configuration_deploys_a_bundle_over_http(embedded):
    assert "dev" in embedded["seeded"] and "embedded-pass" in embedded["seeded"]
    assert (embedded["var"] / "slipway.sqlite3").exists()
    api = requests.Session()
    api.headers["Authorization"] = f"Token {embedded['token']}"
    base = embedded["base"]

    environments = api.get(f"{base}/api/v1/environments/", params={"tier": "prototype"}, timeout=10).json()["results"]
    response = api.post(
        f"{base}/api/v1/deployments/",
        json={
            "environment": environments[0]["id"],
            "name": "jobs",
            "bundle": "queue",
            "preset": "Prototype (~$1/month)",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    deployment = response.json()
    assert deployment["run"]["status"] == "queued"

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        current = api.get(f"{base}/api/v1/deployments/{deployment['id']}/", timeout=10).json()
        if current["status"] in ("live", "failed"):
            break
        time.sleep(0.5)
    worker_log = (embedded["logs"] / "worker.log").read_text()
    assert current["status"] == "live", worker_log[-3000:]
    assert current["outputs"]["queue_name"].startswith("checkout-proto-jobs")
    # The queue and its dead-letter queue are in the sandbox cloud, and the worker installed its provider.
    cloud = requests.get(
        f"{base}/sandbox/api/v1/resources/",
        params={"kind": "queue"},
        headers={"Authorization": "Bearer embedded-sandbox-token"},
        timeout=10,
    ).json()
    assert sorted(q["name"] for q in cloud["results"]) == ["checkout-proto-jobs", "checkout-proto-jobs-dlq"]
    assert current["outputs"]["queue_id"] in {q["id"] for q in cloud["results"]}
    assert list((embedded["var"] / "providers" / "slipway.local" / "slipway" / "sandbox").iterdir())
    logs = api.get(f"{base}/api/v1/runs/{deployment['run']['id']}/logs/", params={"after": 0}, timeout=10).json()
    assert logs["finished"] is True
    assert any("Apply complete!" in line["text"] for line in logs["lines"])
    # Web and worker met through the filesystem broker under var/.
    assert (embedded["var"] / "broker" / "queue").is_dir()


def test_reviewer_pages_and_exports_work_on_the_embedded_database(embedded):
    """SQLite has its own SQL limits: the audit pages must work there too, not only on PostgreSQL."""
    base = embedded["base"]
    api = requests.Session()
    api.headers["Authorization"] = f"Token {embedded['token']}"
    environments = api.get(f"{base}/api/v1/environments/", params={"tier": "prototype"}, timeout=10).json()["results"]
    created = api.post(
        f"{base}/api/v1/deployments/",
        json={
            "environment": environments[0]["id"],
            "name": "audited",
            "bundle": "queue",
            "preset": "Prototype (~$1/month)",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text

    reviewer = requests.Session()
    login = reviewer.get(f"{base}/accounts/login/", timeout=10)
    assert login.ok
    reviewer.post(
        f"{base}/accounts/login/",
        data={"username": "auditor", "password": "embedded-pass", "csrfmiddlewaretoken": reviewer.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    for path in ("/audit/", "/audit/as-of/", "/audit/diff/", f"/audit/deployments/{created.json()['id']}/history/"):
        page = reviewer.get(base + path, timeout=30)
        assert page.status_code == 200, (path, page.text[:500])
        assert "audited" in page.text, path
    export = reviewer.get(f"{base}/audit/", params={"format": "csv"}, timeout=30)
    assert export.status_code == 200 and "audited" in export.text
