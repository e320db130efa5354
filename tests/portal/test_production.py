"""Production as the README documents it: DEBUG=0, plain HTTP on a private network, gunicorn and a Celery
worker on PostgreSQL and Redis. A deploy succeeds; a wrong encryption key stops start-up with the documented
sentence; rotating the key and dropping the old one keeps every secret readable."""

import json
import shutil
import subprocess
import sys
import time

import pytest
import requests
from cryptography.fernet import Fernet

from deployments.alarms.services import alarm_endpoint_ensure
from deployments.models import Deployment, ExceptionRequest, Run
from portal import crypto
from portal.models import APIToken
from tests.conftest import (
    ROOT,
    free_port,
    service_env,
    start_process,
    start_redis,
    start_worker,
    stop_process,
    stop_redis,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SECRET = "pr0duction-s3cret-value"


def production_env(tmp_path, *, key: str, port: int, broker: str) -> dict[str, str]:
    """The README's "plain HTTP on a private network" example, pointed at this test's database and broker."""
    return service_env(
        CELERY_BROKER_URL=broker,
        DEBUG="0",
        SECRET_KEY="production-test-" + "k" * 50,
        SLIPWAY_ENCRYPTION_KEY=key,
        SLIPWAY_TLS="off",
        SLIPWAY_BASE_URL=f"http://127.0.0.1:{port}",
        SLIPWAY_PUBLIC_URL=f"http://localhost:{port}",
        ALLOWED_HOSTS="slipway.internal",  # the workers' and the public host are added by Slipway itself
        STATIC_ROOT=str(tmp_path / "static"),
        SLIPWAY_VAR_DIR=str(tmp_path / "var"),
        SLIPWAY_WORKDIR=str(tmp_path / "work"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )


def manage(env, *args, check=True):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=check
    )


def wait_for_health(base: str, proc, log) -> requests.Response:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            return requests.get(f"{base}/healthz", timeout=5, allow_redirects=False)
        except requests.ConnectionError:
            time.sleep(0.3)
    pytest.fail(f"gunicorn did not answer:\n{log.read_text()[-3000:]}")


def every_secret(settings, key: str) -> dict[str, bytes]:
    """Every encrypted value in the database, decrypted with ``key`` alone, by column and row."""
    settings.SLIPWAY_ENCRYPTION_KEY = key
    out = {}
    for model, field in crypto.encrypted_fields():
        for pk, value in model._default_manager.exclude(**{f"{field}__isnull": True}).values_list("pk", field):
            out[f"{model._meta.label}.{field}#{pk}"] = crypto.decrypt(value)
    return out


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_production_deploys_refuses_a_wrong_key_and_survives_a_key_rotation(
    dev, catalog, proto_env, tmp_path, settings
):
    old_key, new_key, wrong_key = (Fernet.generate_key().decode() for _ in range(3))
    port, redis_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    # A Redis of its own: the session's worker (another key, another server) must not take these runs.
    start_redis(redis_port, tmp_path)
    env = production_env(tmp_path, key=old_key, port=port, broker=f"redis://127.0.0.1:{redis_port}/0")
    manage(env, "collectstatic", "--noinput", "-v0")
    gunicorn = [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--bind", f"127.0.0.1:{port}", "-w", "1"]

    # --- a deploy over plain HTTP ---------------------------------------------------------------------
    web = start_process(gunicorn, env, tmp_path / "web.log")
    worker = None
    try:
        health = wait_for_health(base, web, tmp_path / "web.log")
        assert health.status_code == 200, health.text
        login = requests.get(f"{base}/accounts/login/", timeout=10, allow_redirects=False)
        assert login.status_code == 200  # not a redirect to https
        assert "Secure" not in login.headers.get("Set-Cookie", "")
        css = login.text.split('href="/static/css/slipway.')[1].split('"')[0]
        assert requests.get(f"{base}/static/css/slipway.{css}", timeout=10).status_code == 200  # hashed, served
        # Compressed, and cached for good: a hashed name changes when its content does (issue 19).
        for asset in (f"css/slipway.{css}", login.text.split('src="/static/')[1].split('"')[0]):
            got = requests.get(f"{base}/static/{asset}", headers={"Accept-Encoding": "gzip, br"}, timeout=10)
            assert got.headers.get("Content-Encoding") in ("gzip", "br"), (asset, dict(got.headers))
            assert "immutable" in got.headers["Cache-Control"] and "max-age=315360000" in got.headers["Cache-Control"]
        worker = start_worker(tmp_path / "worker.log", env, concurrency=1)

        _, token = APIToken.issue(user=dev, name="prod")
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        created = api.post(
            f"{base}/api/v1/deployments/",
            json={
                "environment": proto_env.pk,
                "name": "prod-check",
                "bundle": "workbench",
                "params": {"api_key": SECRET},
            },
            timeout=20,
        )
        assert created.status_code == 201, created.text
        deployment_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = api.get(f"{base}/api/v1/deployments/{deployment_id}/", timeout=10).json()["status"]
            if status in ("live", "failed"):
                break
            time.sleep(0.5)
        logs = (tmp_path / "worker.log").read_text()[-3000:]
        assert status == "live", logs
        revealed = api.post(f"{base}/api/v1/deployments/{deployment_id}/outputs/api_key_echo/reveal/", timeout=10)
        assert revealed.status_code == 200 and SECRET in json.dumps(revealed.json())
    finally:
        if worker is not None:
            stop_process(worker)
        stop_process(web)
        stop_redis(redis_port)

    # Values in every encrypted column, so the rotation below has something everywhere to carry over.
    deployment = Deployment.objects.get(pk=deployment_id)
    settings.SLIPWAY_ENCRYPTION_KEY = old_key
    Run.objects.filter(deployment=deployment).update(plan_file=crypto.encrypt(b"a saved plan"))
    alarm_endpoint_ensure(deployment)  # an alarm webhook's token (made on the first run of a bundle with alarms)
    ExceptionRequest.objects.create(
        environment=proto_env,
        bundle_version=deployment.bundle_version,
        name="asked",
        sensitive_params=crypto.encrypt(json.dumps({'["api_key"]': SECRET}).encode()),
        policy_version=1,
        reason="test",
        requested_by_name="dev",
    )
    before = every_secret(settings, old_key)
    for model, field in crypto.encrypted_fields():
        if model._meta.label == "deployments.Artifact":
            continue  # echo publishes no artifact: rotating artifacts' data is not covered here yet
        assert any(k.startswith(f"{model._meta.label}.{field}#") for k in before), f"nothing in {field}"

    # --- a wrong key: start-up refuses, saying what to do --------------------------------------------
    wrong = {**env, "SLIPWAY_ENCRYPTION_KEY": wrong_key}
    check = manage(wrong, "check", check=False)
    assert check.returncode != 0
    assert "cannot decrypt data this database already holds" in check.stderr
    assert "rotate_encryption_key" in check.stderr and "slipway.E001" in check.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=1", "-n", f"wrong-{port}@%h"],
        cwd=ROOT,
        env=wrong,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "Slipway worker refuses to start" in refused.stderr and "cannot decrypt" in refused.stderr
    no_web = subprocess.run(gunicorn, cwd=ROOT, env=wrong, capture_output=True, text=True, timeout=60)
    assert no_web.returncode != 0 and "cannot decrypt data this database already holds" in no_web.stderr

    # --- rotate, then drop the old key -----------------------------------------------------------------
    rotated = manage({**env, "SLIPWAY_ENCRYPTION_KEY": f"{new_key},{old_key}"}, "rotate_encryption_key")
    assert "now use the first key" in rotated.stdout
    assert manage({**env, "SLIPWAY_ENCRYPTION_KEY": new_key}, "check", check=False).returncode == 0
    assert every_secret(settings, new_key) == before
    with pytest.raises(crypto.KeyMismatch):
        every_secret(settings, old_key)
    settings.SLIPWAY_ENCRYPTION_KEY = new_key
    deployment.refresh_from_db()
    assert deployment.full_params()["api_key"] == SECRET
