"""Connections in runs, on a real worker and the real engine: payloads in, artifacts out, secrets kept out."""

import json

import pytest

from deployments import services
from deployments.models import Artifact, Deployment, RunLogLine
from portal.crypto import decrypt
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PASSWORD = "fixture-password-1"
NEW_PASSWORD = "rotated-password-2"


def applied(deployment):
    run = wait_for_run(deployment.runs.order_by("-created_at", "-id").first())
    assert run.status == "succeeded", run.error + "\n" + "\n".join(run.log_lines.values_list("text", flat=True))
    deployment.refresh_from_db()
    return run


def test_a_consumer_receives_its_producers_payload_and_the_run_records_which_version(
    celery_worker, catalog, proto_env, dev
):
    db = services.deployment_create(
        environment=proto_env, name="orders-db", bundle_version=catalog["datastore"], params={}, actor=dev
    )
    db_run = applied(db)
    artifact = Artifact.objects.get(deployment=db)
    assert (artifact.type, artifact.serial, artifact.type_version) == ("postgresql", 1, "1.0.0")
    assert artifact.specs == {
        "host": "checkout-proto-orders-db.db.internal",
        "port": 5432,
        "database": "app",
        "version": "16",
        "instance_class": "db.t4g.medium",
    }
    assert PASSWORD.encode() not in bytes(artifact.data) and artifact.payload()["data"]["password"] == PASSWORD
    assert artifact.created_by_run == db_run

    app = services.deployment_create(
        environment=proto_env,
        name="shop",
        bundle_version=catalog["webapp"],
        params={},
        actor=dev,
        connections={"database": "orders-db"},
    )
    run = applied(app)
    # The module received the host and the password: the engine's outputs say so.
    assert app.outputs["database_host"] == "checkout-proto-orders-db.db.internal"
    assert app.outputs["assets_url"] == ""  # the optional bucket was left empty: the variable was null
    assert json.loads(decrypt(bytes(app.sensitive_outputs)))["database_password"] == PASSWORD
    assert run.upstream == {
        "database": {
            "deployment": str(db.pk),
            "name": "orders-db",
            "artifact": "database",
            "type": "postgresql",
            "serial": 1,
        }
    }
    # The password is nowhere else in clear: not in the log, the plan, the outputs, the run, the history.
    stored = [
        *RunLogLine.objects.filter(run__deployment__in=[db, app]).values_list("text", flat=True),
        json.dumps(list(RunLogLine.objects.filter(run=run).values_list("event", flat=True))),
        json.dumps(run.plan_json),
        json.dumps(run.plan_summary),
        json.dumps(app.outputs),
        json.dumps(list(app.history.values_list("params", "connections", "outputs"))),
        json.dumps(artifact.specs),
    ]
    assert not [text for text in stored if PASSWORD in text]
    assert any("Connection database: orders-db's postgresql (artifact version 1)." in t for t in stored)

    # A re-apply with the same outputs publishes nothing new; a new password is version 2, and the
    # consumer's next run uses it.
    services.deployment_reapply(deployment=db, actor=dev)
    applied(db)
    assert Artifact.objects.filter(deployment=db).count() == 1
    assert not app.runs.filter(channel="system").exists()  # nothing changed upstream: nothing queued
    services.deployment_update(deployment=db, params={"password": NEW_PASSWORD}, actor=dev)
    db_run = applied(db)
    assert list(Artifact.objects.filter(deployment=db).values_list("serial", flat=True)) == [2, 1]
    # The consumer was queued by the producer's run, and applied (the prototype's policy allows it).
    queued = app.runs.get(channel="system")
    assert queued.reason == "Upstream changed: orders-db's postgresql is now version 2."
    assert db_run.log_lines.filter(text__contains=f"shop uses it: run #{queued.pk} queued").exists()
    run = applied(app)
    assert run.pk == queued.pk and run.upstream["database"]["serial"] == 2
    assert json.loads(decrypt(bytes(app.sensitive_outputs)))["database_password"] == NEW_PASSWORD
    assert not RunLogLine.objects.filter(run=run, text__contains=NEW_PASSWORD).exists()
    assert Deployment.objects.get(pk=db.pk).status == "live"
