"""Issue 11, item 5, as a property: wherever a schema puts ``x-sensitive`` (objects, arrays, oneOf variants,
maps, ``$ref``'d definitions, at random depths) and whatever the params, the secret is nowhere in clear after
create -> apply -> a change through the API -> history: not in any text or JSON column of the database, not in
any API answer about the deployment (to its developer or an auditor), not in the run log, not on disk.

Hypothesis draws a schema and params together; each draw is published as a bundle whose module hands every
param to a ``terraform_data`` resource (so the secrets reach the plan, the state and the engine's output),
deployed on PostgreSQL by the real worker and the engine. Each secret carries a unique core of letters and
digits, looked for in every encoding (JSON escaping, row text) by that core.

Each example costs two runs of the engine (about ten seconds), so the examples are few and each carries much:
one explicit example puts a secret in every kind of place at once (an object's property, array items, a
oneOf variant, a map's values, a $ref'd definition, and a chain of all of them), and each drawn example has
five top-level params drawn independently. The ``secrets`` settings profile draws 3 examples besides the
explicit one, so the test takes well under a minute in ``make test`` and CI;
``SLIPWAY_HYPOTHESIS_PROFILE=thorough`` draws 30 for a deliberate deep run.
"""

from __future__ import annotations

import io
import itertools
import os
import secrets as random_tokens
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from bundles.models import Bundle
from deployments import services
from deployments.models import Deployment
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOP = ("p0", "p1", "p2", "p3", "p4")
SUFFIX = st.text(alphabet='ab "\\é☃-', max_size=5)
_names = itertools.count(1)


class Draw:
    """A schema drawn together with params valid for it; ``cores`` are the secrets' unique parts."""

    def __init__(self):
        self.defs: dict = {}
        self.cores: list[str] = []

    def secret(self, draw) -> str:
        core = f"zq{random_tokens.token_hex(8)}"
        self.cores.append(core)
        return core + draw(SUFFIX)


def node(draw, out: Draw, depth: int):
    """(schema, a function drawing one value for it)."""
    kinds = ["secret", "plain"] + (["object", "array", "variant", "map", "ref"] if depth < 4 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "secret":
        return {"type": "string", "x-sensitive": True}, lambda: out.secret(draw)
    if kind == "plain":
        return {"type": "string"}, lambda: draw(st.sampled_from(["plain", "text", "value"]))
    if kind == "object":
        children = {f"f{i}": node(draw, out, depth + 1) for i in range(draw(st.integers(1, 3)))}
        schema = {"type": "object", "properties": {k: s for k, (s, _) in children.items()}}
        return schema, lambda: {k: make() for k, (_, make) in children.items()}
    if kind == "array":
        item, make = node(draw, out, depth + 1)
        return {"type": "array", "items": item}, lambda: [make() for _ in range(draw(st.integers(1, 2)))]
    if kind == "variant":
        inner, make = node(draw, out, depth + 1)
        schema = {
            "oneOf": [
                {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "on"}, "value": inner}},
                {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "off"}}},
            ]
        }
        return schema, lambda: {"kind": "on", "value": make()}
    if kind == "map":
        value, make = node(draw, out, depth + 1)
        return {"type": "object", "additionalProperties": value}, lambda: {
            f"key-{i}": make() for i in range(draw(st.integers(1, 2)))
        }
    name = f"d{len(out.defs)}"
    out.defs[name] = {}  # the name is taken before the definition (which may hold refs of its own) is drawn
    target, make = node(draw, out, depth + 1)
    out.defs[name] = target
    return {"$ref": f"#/$defs/{name}"}, make


@st.composite
def schemas_and_params(draw):
    out = Draw()
    nodes = {name: node(draw, out, 1) for name in TOP}
    params = {name: make() for name, (_, make) in nodes.items()}
    params["label"] = "first"
    properties = {"label": {"type": "string"}, **{name: s for name, (s, _) in nodes.items()}}
    schema = {"type": "object", "required": ["label"], "properties": properties}
    if out.defs:
        schema["$defs"] = out.defs
    return schema, params, out.cores


hypothesis_settings.register_profile(
    "secrets",
    max_examples=3,
    deadline=None,  # an example runs the engine twice: its time says nothing about the code under test
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
hypothesis_settings.register_profile("secrets-thorough", hypothesis_settings.get_profile("secrets"), max_examples=30)
PROFILE = "secrets-thorough" if os.environ.get("SLIPWAY_HYPOTHESIS_PROFILE") == "thorough" else "secrets"


def secret() -> dict:
    return {"type": "string", "x-sensitive": True}  # a new dict each time: yaml.safe_dump would alias a shared one


def _variant(inner: dict) -> dict:
    return {
        "oneOf": [
            {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "on"}, "value": inner}},
            {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "off"}}},
        ]
    }


# A secret in every kind of place at once, each with a fixed core of its own and a suffix that needs escaping.
_CORES = [f"zqeverywhere{n:04d}" for n in range(8)]
_S = [f'{core} "\\é☃' for core in _CORES]
EVERY_PLACE = (
    {
        "type": "object",
        "required": ["label"],
        "properties": {
            "label": {"type": "string"},
            "p0": {"type": "object", "properties": {"secret": secret(), "plain": {"type": "string"}}},
            "p1": {"type": "array", "items": secret()},
            "p2": _variant(secret()),
            "p3": {"type": "object", "additionalProperties": secret()},
            "p4": {"$ref": "#/$defs/chain"},  # $ref -> array -> map -> $ref -> variant -> object -> secret
        },
        "$defs": {
            "chain": {"type": "array", "items": {"type": "object", "additionalProperties": {"$ref": "#/$defs/leaf"}}},
            "leaf": _variant({"type": "object", "properties": {"deep": secret()}}),
        },
    },
    {
        "label": "first",
        "p0": {"secret": _S[0], "plain": "plain"},
        "p1": [_S[1], _S[5]],
        "p2": {"kind": "on", "value": _S[2]},
        "p3": {"key-1": _S[3], "key-2": _S[6]},
        "p4": [
            {"a": {"kind": "on", "value": {"deep": _S[4]}}, "b": {"kind": "off"}},
            {"c": {"kind": "on", "value": {"deep": _S[7]}}},
        ],
    },
    [_CORES[i] for i in (0, 1, 5, 2, 3, 6, 4, 7)],
)

VARIABLES = "".join(f'variable "{n}" {{\n  type    = any\n  default = null\n}}\n\n' for n in TOP)
INPUTS = ", ".join(f"var.{n}" for n in TOP)
MODULE = (
    f'{VARIABLES}variable "label" {{\n  type = string\n}}\n\n'
    f'resource "terraform_data" "everything" {{\n  input = [var.label, {INPUTS}]\n}}\n'
)


def publish(schema: dict, tmp: Path) -> str:
    name = f"prop-{next(_names)}"
    root = tmp / name
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.tf").write_text(MODULE)
    manifest = {
        "schema": "slipway/bundle/v1",
        "name": name,
        "version": "1.0.0",
        "title": name,
        "description": "Secrets at random depths (property test).",
        "category": "Testing",
        "params": schema,
    }
    (root / "bundle.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True))
    call_command("sync_bundles", str(root), stdout=io.StringIO())
    return name


def database_text() -> str:
    """Every row of every table as PostgreSQL writes it out as text (JSON and text columns verbatim, binary
    columns as hex): the secrets' cores are letters and digits, so no escaping hides them."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT t::text FROM "{table}" t')  # table names from the introspection
            chunks.extend(row[0] for row in cursor.fetchall())
    return "\n".join(chunks)


def api_text(client: APIClient, deployment: Deployment) -> str:
    pk = deployment.pk
    urls = [
        f"/api/v1/deployments/{pk}/",
        f"/api/v1/deployments/{pk}/history/",
        "/api/v1/deployments/",
        f"/api/v1/runs/?deployment={pk}",
        "/api/v1/runs/",
        f"/api/v1/estate/?q=name:{deployment.name}",
        "/api/v1/audit/events/",
        "/api/v1/exceptions/",
    ]
    for run in deployment.runs.all():
        urls += [f"/api/v1/runs/{run.pk}/", f"/api/v1/runs/{run.pk}/logs/"]
    bodies = []
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        bodies.append(response.content.decode())
    return "\n".join(bodies)


def disk_text() -> str:
    root = Path(settings.SLIPWAY_WORKDIR)
    if not root.exists():
        return ""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file())


@pytest.fixture
def readers(dev, auditor):
    clients = []
    for user in (dev, auditor):
        client = APIClient()
        client.force_authenticate(user)
        clients.append(client)
    return clients


def test_no_secret_is_kept_or_served_in_clear_wherever_the_schema_puts_it(
    celery_worker, dev, proto_env, readers, tmp_path_factory
):
    @hypothesis_settings(hypothesis_settings.get_profile(PROFILE))
    @given(schemas_and_params())
    @example(EVERY_PLACE)
    def check(drawn):
        schema, params, cores = drawn
        name = publish(schema, tmp_path_factory.mktemp("bundle"))
        version = Bundle.objects.get(name=name).latest_version()
        deployment = services.deployment_create(
            environment=proto_env, name=name, bundle_version=version, params=params, actor=dev
        )
        run = wait_for_run(deployment.runs.get())
        assert run.status == "succeeded", run.error
        # A change through the API: the client sends back what it read (masks and all), one field changed.
        shown = readers[0].get(f"/api/v1/deployments/{deployment.pk}/").json()
        changed = {**shown["params"], "label": "changed"}
        applied = readers[0].post(f"/api/v1/deployments/{deployment.pk}/apply/", {"params": changed}, format="json")
        assert applied.status_code == 202, applied.content
        second = wait_for_run(deployment.runs.get(pk=applied.json()["id"]))
        assert second.status == "succeeded", second.error
        deployment.refresh_from_db()
        expected = {**params, "label": "changed"}
        assert deployment.full_params() == expected  # every other secret kept, in clear only where it belongs

        everywhere = {
            "database": database_text(),
            "api (developer)": api_text(readers[0], deployment),
            "api (auditor)": api_text(readers[1], deployment),
            "work directory": disk_text(),
        }
        for where, text in everywhere.items():
            leaked = [core for core in cores if core in text]
            assert not leaked, f"secret in clear in the {where}: {leaked} (schema {schema})"

    check()
