"""Slipway as the engine's state backend, without a worker: large states, the credential of a run whose
worker died, and a state the engine could not send (errored.tfstate) kept, not lost."""

import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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


# --- The hot path: what each call of the engine costs in queries, and that the answers stayed the same ---------


def _queries(ctx) -> list[str]:
    """The statements a request made, without savepoints (a transaction's BEGIN/COMMIT outside tests) and the
    resource index's own rows (it follows each new state: ``deployments.estate.index``)."""
    return [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) and "deployments_stateresource" not in q["sql"]
    ]


def test_each_call_of_the_engine_is_two_or_three_queries(client, deployment, run):
    url = reverse("state", args=[deployment.pk])
    lock_url = reverse("state-lock", args=[deployment.pk])
    lock = json.dumps({"ID": "lock-1", "Operation": "OperationTypeApply"})
    body = big_state(2000)
    calls = [
        ("LOCK", lambda: client.generic("LOCK", lock_url, lock, **auth(run)), 200, 2),
        ("GET, no state yet", lambda: client.get(url, **auth(run)), 204, 2),
        ("POST", lambda: client.post(f"{url}?ID=lock-1", body, content_type="application/json", **auth(run)), 200, 3),
        (
            "POST, same state",
            lambda: client.post(f"{url}?ID=lock-1", body, content_type="application/json", **auth(run)),
            200,
            2,
        ),
        ("GET", lambda: client.get(url, **auth(run)), 200, 2),
        ("UNLOCK", lambda: client.generic("UNLOCK", lock_url, lock, **auth(run)), 200, 2),
    ]
    for name, call, status, most in calls:
        with CaptureQueriesContext(connection) as ctx:
            response = call()
        assert response.status_code == status, (name, response.content)
        assert len(_queries(ctx)) <= most, (name, _queries(ctx))
    assert StateVersion.objects.filter(deployment=deployment).count() == 1  # the same state twice is one version
    assert not StateLock.objects.exists()


def test_the_run_row_is_read_without_its_plan_or_params(client, deployment, run):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("state", args=[deployment.pk]), **auth(run)).status_code == 204
    read = next(q for q in _queries(ctx) if 'FROM "deployments_run"' in q)
    assert "plan_json" not in read and "plan_file" not in read and '"params"' not in read


def test_the_lock_answers_as_before(client, deployment, run):
    lock_url = reverse("state-lock", args=[deployment.pk])
    mine = {"ID": "lock-1", "Operation": "OperationTypeApply", "Who": "engine"}
    other = {"ID": "lock-2", "Operation": "OperationTypePlan"}
    assert client.generic("LOCK", lock_url, json.dumps(mine), **auth(run)).status_code == 200
    # The same operation asking again is granted; another is refused with the holder's info (423).
    assert client.generic("LOCK", lock_url, json.dumps(mine), **auth(run)).status_code == 200
    refused = client.generic("LOCK", lock_url, json.dumps(other), **auth(run))
    assert refused.status_code == 423 and refused.json() == mine
    # A state written under another lock id is refused with the lock's info (409).
    written = client.post(
        f"{reverse('state', args=[deployment.pk])}?ID=lock-2",
        big_state(500),
        content_type="application/json",
        **auth(run),
    )
    assert written.status_code == 409 and written.json()["lock"] == mine
    assert not StateVersion.objects.exists()
    # Unlocking someone else's lock is refused with its info; the holder's id releases it; twice is fine.
    wrong = client.generic("UNLOCK", lock_url, json.dumps(other), **auth(run))
    assert wrong.status_code == 409 and wrong.json() == mine
    assert StateLock.objects.filter(deployment=deployment, lock_id="lock-1", run=run).exists()
    assert client.generic("UNLOCK", lock_url, json.dumps(mine), **auth(run)).status_code == 200
    assert client.generic("UNLOCK", lock_url, json.dumps(mine), **auth(run)).status_code == 200
    # An empty body (`force-unlock` with the run's credential) releases whatever lock there is.
    assert client.generic("LOCK", lock_url, json.dumps(other), **auth(run)).status_code == 200
    assert client.generic("UNLOCK", lock_url, "", **auth(run)).status_code == 200
    assert not StateLock.objects.exists()
