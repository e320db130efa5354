"""Issue 14's acceptance, on PostgreSQL, Redis, a real worker, the engine and the sandbox cloud: from an
empty environment a developer deploys a network, a database and a web service through the pages; the
service's module receives the database's host and password; destroying the database is refused while
the service is connected."""

import json
import re

import pytest
from django.urls import reverse

from deployments.models import Artifact, Deployment, RunLogLine
from portal.crypto import decrypt
from portal.sandbox.models import Resource
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def deploy(client, environment, bundle, name, params, connections=None):
    """Open the new-deployment page, keep what it preselects (as a browser posts it), fill params, deploy."""
    page = client.get(reverse("deployments:new", args=[bundle]), {"environment": environment.pk}).content.decode()
    data = {"environment": environment.pk, "name": name, "reason": "acceptance"}
    for select, options in re.findall(
        r'<select id="conn-[^"]+" name="(connection/[^"]+)"[^>]*>(.*?)</select>', page, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        data[select] = chosen.group(1) if chosen else ""
    data.update({f"param/{k}": str(v) for k, v in params.items()})
    data.update(connections or {})
    response = client.post(reverse("deployments:new", args=[bundle]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    deployment = Deployment.objects.get(environment=environment, name=name)
    return deployment, page, applied(deployment)


def applied(deployment):
    run = wait_for_run(deployment.runs.order_by("-created_at", "-id").first(), timeout=180)
    log = "\n".join(run.log_lines.order_by("seq").values_list("text", flat=True))
    assert run.status == "succeeded", f"{run.error}\n{log}"
    deployment.refresh_from_db()
    return run


def test_network_database_and_web_service_wired_through_the_pages(celery_worker, dev_client, catalog, proto_env):
    network, _, _ = deploy(dev_client, proto_env, "network", "main-net", {"cidr_block": "10.0.0.0/16"})
    db, _, _ = deploy(dev_client, proto_env, "postgres", "orders-db", {"size": "small", "storage_gb": 20})
    assert network.bundle_version.version == "1.2.0" and db.bundle_version.version == catalog["postgres"].version
    db_artifact = Artifact.objects.get(deployment=db)
    assert db_artifact.specs["host"] == db.outputs["host"] and db_artifact.specs["instance_class"] == "db.t4g.medium"
    password = json.loads(decrypt(bytes(db.sensitive_outputs)))["password"]
    assert len(password) >= 8 and db_artifact.payload()["data"]["password"] == password

    params = {"image": "ghcr.io/acme/checkout:1.4.2", "port": 8080, "cpu": 0.5, "memory_mb": 1024}
    web, form, run = deploy(dev_client, proto_env, "web-service", "checkout-web", params)
    # The form preselected the environment's network (its default) and the only database there is.
    assert "main-net (Private network 1.2.0) · environment default" in form
    assert web.connections == {"network": str(network.pk), "database": str(db.pk)}
    assert run.upstream["database"]["serial"] == 1 and run.upstream["network"]["name"] == "main-net"

    # The module received the host and the password: the engine's outputs say so.
    assert web.outputs["environment"]["DATABASE_HOST"] == db.outputs["host"]
    assert web.outputs["environment"]["DATABASE_USER"] == db.outputs["username"]
    secret = json.loads(decrypt(bytes(web.sensitive_outputs)))["secret_environment"]
    assert secret["DATABASE_PASSWORD"] == password and password in secret["DATABASE_URL"]
    # The service runs in the connected network, in the cloud.
    service = Resource.objects.get(pk=web.outputs["service_id"])
    assert service.attributes["network_id"] == network.outputs["network_id"]
    # ... and the password is masked everywhere else.
    everywhere = [
        *RunLogLine.objects.values_list("text", flat=True),
        json.dumps(list(RunLogLine.objects.exclude(event=None).values_list("event", flat=True))),
        json.dumps([r.plan_json for r in web.runs.all()]),
        json.dumps(web.outputs),
        json.dumps(list(web.history.values_list("params", "connections", "outputs"))),
        json.dumps(list(Artifact.objects.values_list("specs", flat=True))),
        dev_client.get(web.get_absolute_url()).content.decode(),
        dev_client.get(f"/api/v1/deployments/{web.pk}/").content.decode(),
    ]
    assert not [text[:200] for text in everywhere if password in text]
    page = dev_client.get(web.get_absolute_url()).content.decode()
    assert 'data-connection="database"' in page and "the last run used its postgresql version 1" in page

    # A bigger database is a new version of its artifact; the service's next run uses it.
    dev_client.post(
        reverse("deployments:edit", args=[db.pk]),
        {"reason": "more memory", "param/size": "medium", "param/storage_gb": "20", "expected_version": db.version},
    )
    applied(db)
    assert list(Artifact.objects.filter(deployment=db).values_list("serial", flat=True)) == [2, 1]
    assert Artifact.objects.filter(deployment=db).first().specs["instance_class"] == "db.r6g.large"
    dev_client.post(reverse("deployments:apply", args=[web.pk]))
    assert applied(web).upstream["database"]["serial"] == 2

    # Destroying the database is refused while the web service is connected, saying who.
    refused = dev_client.post(reverse("deployments:destroy", args=[db.pk]), {"confirm": "orders-db", "reason": "x"})
    text = refused.content.decode()
    assert refused.status_code == 200
    assert "orders-db cannot be destroyed while checkout-web (live) is connected to it." in text
    assert not db.runs.filter(action="destroy").exists()
    assert Deployment.objects.get(pk=db.pk).status == "live"
