"""Secrets wherever a schema puts them: an array item, a oneOf variant, a map value, behind a $ref.

They are masked in params, in history and in the API, and the engine gets them in clear.
"""

import hashlib
import json

import pytest
from rest_framework.test import APIClient

from audit.services import deployment_restore
from deployments import secrets, services
from deployments.models import Deployment
from portal.crypto import encrypt
from portal.errors import ParamsInvalid
from tests.conftest import wait_for_run

PARAMS = {
    "label": "demo",
    "rules": [{"name": "a", "token": "rule-token-one"}, {"name": "b", "token": "rule-token-two"}],
    "auth": {"kind": "token", "token": "variant-token"},
    "env": {"DB_PASSWORD": "map-secret-1", "API/KEY": "map-secret-2"},
    "api_key": "ref-secret-key",
}
SECRETS = ["rule-token-one", "rule-token-two", "variant-token", "map-secret-1", "map-secret-2", "ref-secret-key"]
WHERE = ["/rules/0/token", "/rules/1/token", "/auth/token", "/env/DB_PASSWORD", "/env/API~1KEY", "/api_key"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def no_secret_in(value) -> bool:
    text = json.dumps(value, default=str)
    return not any(secret in text for secret in SECRETS)


@pytest.fixture
def schema(catalog):
    return catalog["vault"].params_schema


@pytest.mark.django_db
def test_split_masks_each_secret_at_its_own_pointer_and_merge_puts_it_back(schema):
    masked, encrypted = secrets.split(schema, PARAMS)
    assert no_secret_in(masked)
    for where in WHERE:
        node = masked
        for part in where.split("/")[1:]:
            part = part.replace("~1", "/")
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert secrets.is_mask(node), where
    assert masked["rules"][0]["name"] == "a" and masked["auth"]["kind"] == "token" and masked["label"] == "demo"
    assert secrets.merge(masked, encrypted) == PARAMS
    assert secrets.present(schema, masked) == set(WHERE)


@pytest.mark.django_db
def test_merge_finds_a_moved_secret_by_its_mask(schema):
    masked, encrypted = secrets.split(schema, PARAMS)
    swapped = {**masked, "rules": list(reversed(masked["rules"]))}  # the rows changed places
    assert secrets.merge(swapped, encrypted)["rules"] == list(reversed(PARAMS["rules"]))


@pytest.mark.django_db
def test_secrets_still_merge_after_the_secret_key_changed(schema, settings):
    masked, encrypted = secrets.split(schema, PARAMS)
    settings.SECRET_KEY = "another-secret-key-after-a-rotation"  # every mask was made under the old one
    assert secrets.merge(masked, encrypted) == PARAMS


@pytest.mark.django_db
def test_secrets_stored_before_pointers_still_merge():
    old = encrypt(json.dumps({json.dumps(["db", "password"]): "hunter22"}).encode())
    assert secrets.merge({"db": {"password": secrets.fingerprint("hunter22")}}, old) == {"db": {"password": "hunter22"}}


@pytest.mark.django_db
def test_a_mask_sent_back_stands_for_its_secret_and_an_unknown_one_is_refused(schema):
    masked, encrypted = secrets.split(schema, PARAMS)
    assert secrets.unmask(schema, masked, lambda: [encrypted]) == PARAMS
    with pytest.raises(ParamsInvalid) as refused:
        secrets.unmask(schema, masked, lambda: [])
    assert set(refused.value.errors) == set(WHERE)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_secrets_in_arrays_variants_maps_and_refs_reach_the_engine_and_nothing_else(
    celery_worker, dev, catalog, proto_env
):
    deployment = services.deployment_create(
        environment=proto_env, name="vault", bundle_version=catalog["vault"], params=PARAMS, actor=dev
    )
    run = wait_for_run(deployment.runs.get())
    assert run.status == "succeeded", run.error
    deployment.refresh_from_db()
    digests = {
        "rules_digest": sha("rule-token-one,rule-token-two"),
        "auth_digest": sha("variant-token"),
        "env_digest": sha("map-secret-2,map-secret-1"),  # sorted keys: API/KEY, DB_PASSWORD
        "api_key_digest": sha("ref-secret-key"),
    }
    assert deployment.outputs == digests  # the engine got every secret in clear

    # Masked in params, run snapshots and logs, history, and the API.
    assert no_secret_in(deployment.params) and no_secret_in(run.params)
    assert no_secret_in(list(run.log_lines.values_list("text", "event")))
    assert no_secret_in(list(deployment.history.values_list("params", flat=True)))
    api = APIClient()
    api.force_authenticate(dev)
    shown = api.get(f"/api/v1/deployments/{deployment.pk}/").json()
    assert no_secret_in(shown) and shown["params"]["env"]["DB_PASSWORD"].startswith(secrets.MASK_PREFIX)
    history = api.get(f"/api/v1/deployments/{deployment.pk}/history/").json()
    assert no_secret_in(history)

    # A client that sends back what it read (masks and all) changes only what it changed.
    changed = {**shown["params"], "label": "renamed", "api_key": "new-secret-key"}
    response = api.post(f"/api/v1/deployments/{deployment.pk}/apply/", {"params": changed}, format="json")
    assert response.status_code == 202, response.json()
    assert wait_for_run(deployment.runs.get(pk=response.json()["id"])).status == "succeeded"
    deployment.refresh_from_db()
    assert deployment.outputs == {**digests, "api_key_digest": sha("new-secret-key")}
    assert deployment.full_params() == {**PARAMS, "label": "renamed", "api_key": "new-secret-key"}

    # A past configuration restored brings its secrets back with it, even one changed since (a run kept it).
    first = deployment.history.order_by("history_date", "history_id").first()
    restored = wait_for_run(deployment_restore(deployment=deployment, history_id=first.history_id, actor=dev))
    assert restored.status == "succeeded", restored.error
    deployment = Deployment.objects.get(pk=deployment.pk)
    assert deployment.full_params() == PARAMS and deployment.outputs == digests
