"""The secret property of issue 11 (``test_secrets_property``), extended to artifact payloads: wherever a
resource type's ``data`` schema puts ``x-sensitive`` (objects, arrays, oneOf variants, maps, ``$ref``'d
definitions, at random depths), a payload stored as an artifact, as the after-apply step stores it (a first
version, then a changed one), is nowhere in clear: not in any text or JSON column of the database, not in any
API answer about the deployment (its artifacts, its detail, its history, the events, the environment's graph)
to its developer or an auditor, not on its page. The audited reveal gives the values back, and only it.

The run's side (the payload reaches the module and no log line) is covered on the real engine by
``test_connections_runs``; this test draws the payloads, so it runs without the engine.
"""

from __future__ import annotations

import itertools

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from bundles.models import ResourceType
from deployments.choices import DeploymentStatus
from deployments.connections import api as connections_api
from deployments.connections.services import artifact_store
from deployments.models import Deployment
from tests.deployments.test_secrets_property import Draw, api_text, database_text, node

pytestmark = pytest.mark.django_db

_names = itertools.count(1)


@st.composite
def data_schemas_and_payloads(draw):
    """A type's ``data`` schema with a payload valid for it; one secret always at the top, more anywhere."""
    out = Draw()
    nodes = {f"d{i}": node(draw, out, 1) for i in range(3)}
    password = out.secret(draw)
    data = {"password": password, **{name: make() for name, (_, make) in nodes.items()}}
    schema = {
        "type": "object",
        "required": ["password"],
        "properties": {"password": {"type": "string", "x-sensitive": True}, **{n: s for n, (s, _) in nodes.items()}},
    }
    if out.defs:
        schema["$defs"] = out.defs
    changed = {**data, "password": out.secret(draw)}  # the next version: a new password
    return schema, data, changed, out.cores


def publish(environment, version, schema: dict, data: dict, changed: dict) -> Deployment:
    """A live deployment that has published two versions of an artifact of a new type with ``schema``."""
    n = next(_names)
    kind = ResourceType.objects.create(
        name=f"prop-type-{n}",
        version="1.0.0",
        title=f"Property type {n}",
        specs_schema={"type": "object", "properties": {"host": {"type": "string"}}},
        data_schema=schema,
    )
    producer = Deployment.objects.create(
        environment=environment,
        name=f"prop-producer-{n}",
        bundle_version=version,
        params={"message": "m"},
        status=DeploymentStatus.LIVE,
    )
    declared = {"name": "out", "type": kind.name, "type_version": kind.version}
    for payload in (data, changed):
        artifact_store(deployment=producer, declared=declared, payload={"specs": {"host": "h"}, "data": payload})
    return producer


def served(readers, page_client, deployment: Deployment) -> dict[str, str]:
    """Every text a person reads about the deployment, by where it is read."""
    texts = {}
    for who, client in readers.items():
        urls = [
            f"/api/v1/deployments/{deployment.pk}/artifacts/",
            f"/api/v1/environments/{deployment.environment_id}/graph/",
        ]
        texts[f"api ({who})"] = api_text(client, deployment) + "\n".join(client.get(u).content.decode() for u in urls)
    texts["deployment page"] = page_client.get(deployment.get_absolute_url()).content.decode()
    return texts


def leaks(cores: list[str], texts: dict[str, str]) -> dict[str, list[str]]:
    return {where: found for where, text in texts.items() if (found := [c for c in cores if c in text])}


@pytest.fixture
def readers(dev, auditor):
    clients = {}
    for user in (dev, auditor):
        client = APIClient()
        client.force_authenticate(user)
        clients[user.username] = client
    return clients


@pytest.fixture
def page_client(dev):
    client = Client()
    client.force_login(dev)
    return client


def test_no_artifact_secret_is_kept_or_served_in_clear_wherever_the_type_puts_it(
    catalog, proto_env, readers, page_client
):
    @hypothesis_settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )
    @given(data_schemas_and_payloads())
    def check(drawn):
        schema, data, changed, cores = drawn
        producer = publish(proto_env, catalog["echo"], schema, data, changed)
        texts = {"database": database_text(), **served(readers, page_client, producer)}
        assert not leaks(cores, texts), f"artifact secret in clear: {leaks(cores, texts)} (schema {schema})"

        # The one way to read them: the audited reveal, which gives the newest version back whole.
        revealed = readers["dev"].post(f"/api/v1/deployments/{producer.pk}/artifacts/out/reveal/")
        assert revealed.status_code == 200 and revealed.json()["data"] == changed
        assert not leaks(cores, {"database after the reveal": database_text()})

    check()


def test_the_property_finds_a_secret_the_api_would_serve_in_clear(
    catalog, proto_env, readers, page_client, monkeypatch
):
    """The check is not empty: with the mask taken off the artifacts' answer, it finds the secret."""
    monkeypatch.setattr(connections_api, "artifact_shown", lambda artifact: artifact.payload()["data"])
    schema = {"type": "object", "properties": {"password": {"type": "string", "x-sensitive": True}}}
    producer = publish(proto_env, catalog["echo"], schema, {"password": "zqcleartext1"}, {"password": "zqcleartext2"})
    found = leaks(["zqcleartext2"], served(readers, page_client, producer))
    assert set(found) == {"api (dev)", "api (auditor)"}
