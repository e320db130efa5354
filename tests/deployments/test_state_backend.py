"""Slipway as the engine's state backend, without a worker: large states, the credential of a run whose
worker died, and a state the engine could not send (errored.tfstate) kept, not lost."""

import base64
import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from deployments import services
from deployments.models import StateLock, StateVersion
from deployments.runs.state_backend import credential_hash
from deployments.runs.workdirs import store_errored_state
from portal.crypto import decrypt

pytestmark = pytest.mark.django_db
PASSWORD = "engine-password-for-this-run"


@pytest.fixture
def deployment(dev, catalog, proto_env):
    return services.deployment_create(
        environment=proto_env, name="cache", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )


@pytest.fixture
def run(deployment):
    run = deployment.runs.get()
    run.transition("running", state_credential=credential_hash(PASSWORD))
    return run


def auth(run):
    token = base64.b64encode(f"run-{run.pk}:{PASSWORD}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def big_state(size: int) -> bytes:
    """A state document of about ``size`` bytes: many resources, as a large estate has."""
    instance = {"schema_version": 0, "attributes": {"id": "x", "input": "y" * 1000}}
    count = size // 1100 + 1
    state = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 7,
        "lineage": "big-lineage",
        "outputs": {},
        "resources": [
            {"mode": "managed", "type": "terraform_data", "name": f"r{i}", "provider": "p", "instances": [instance]}
            for i in range(count)
        ],
    }
    return json.dumps(state).encode()


def test_a_state_over_three_mib_is_stored(client, deployment, run):
    body = big_state(3 * 1024 * 1024 + 1)
    assert len(body) > 3 * 1024 * 1024  # over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB)
    response = client.post(reverse("state", args=[deployment.pk]), body, content_type="application/json", **auth(run))
    assert response.status_code == 200, response.content
    version = StateVersion.objects.get(deployment=deployment)
    assert decrypt(bytes(version.encrypted_state)) == body and version.serial == 7
    back = client.get(reverse("state", args=[deployment.pk]), **auth(run))
    assert back.status_code == 200 and back.content == body


def test_a_state_over_the_backends_own_limit_is_refused_with_413(client, deployment, run, settings):
    settings.SLIPWAY_STATE_MAX_BYTES = 1024 * 1024
    body = big_state(1024 * 1024 + 10)
    response = client.post(reverse("state", args=[deployment.pk]), body, content_type="application/json", **auth(run))
    assert response.status_code == 413
    assert "SLIPWAY_STATE_MAX_BYTES" in response.json()["message"]
    assert not StateVersion.objects.exists()


def test_an_interrupted_runs_engine_may_save_and_unlock_while_it_holds_the_lock(client, deployment, run):
    url = reverse("state", args=[deployment.pk])
    lock_url = reverse("state-lock", args=[deployment.pk])
    lock = {"ID": "lock-1", "Operation": "OperationTypeApply"}
    assert client.generic("LOCK", lock_url, json.dumps(lock), **auth(run)).status_code == 200
    run.transition("interrupted")  # the reaper: its worker stopped sending heartbeats

    body = big_state(2000)
    assert client.post(f"{url}?ID=lock-1", body, content_type="application/json", **auth(run)).status_code == 200
    assert StateVersion.objects.filter(deployment=deployment, created_by_run=run).count() == 1
    assert client.generic("UNLOCK", lock_url, json.dumps(lock), **auth(run)).status_code == 200
    assert not StateLock.objects.exists()
    run.refresh_from_db()
    assert run.state_credential == ""
    # Without the lock, the credential of an interrupted run is worth nothing.
    assert client.post(url, body, content_type="application/json", **auth(run)).status_code == 401


def test_an_interrupted_run_without_the_lock_cannot_write(client, deployment, run):
    run.transition("interrupted")
    response = client.post(
        reverse("state", args=[deployment.pk]), big_state(2000), content_type="application/json", **auth(run)
    )
    assert response.status_code == 401
    assert not StateVersion.objects.exists()


def test_errored_tfstate_becomes_a_state_version_and_an_audit_event(deployment, run, tmp_path):
    assert store_errored_state(tmp_path, run_id=run.pk, deployment_id=deployment.pk) is None  # nothing there
    body = big_state(5000)
    (tmp_path / "errored.tfstate").write_bytes(body)
    version = store_errored_state(tmp_path, run_id=run.pk, deployment_id=deployment.pk)
    assert version is not None and decrypt(bytes(version.encrypted_state)) == body
    assert version.created_by_run_id == run.pk and version.lineage == "big-lineage"
    event = AuditEvent.objects.get(event_type="state.recovered")
    assert event.data["state_version"] == version.pk
    # The same file twice is one version.
    assert store_errored_state(tmp_path, run_id=run.pk, deployment_id=deployment.pk) == version
    assert StateVersion.objects.filter(deployment=deployment).count() == 1
