"""A developer deploys catalog bundles through the web form; a real worker runs the real engine."""

import json

import pytest
from django.urls import reverse

from deployments.models import Deployment, Run
from deployments.runs import services as run_services
from portal.crypto import decrypt
from portal.sandbox.models import Resource
from tests.conftest import wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def production_preset(version):
    return next(p for p in version.presets if p["name"].startswith("Production"))


def form_data(environment, name, params, **extra):
    data = {"environment": environment.pk, "name": name, "reason": "orders need a database"}
    for key, value in params.items():
        if isinstance(value, bool):
            if value:
                data[f"param/{key}"] = "on"
        else:
            data[f"param/{key}"] = str(value)
    data.update(extra)
    return data


def test_it_deploys_postgres_from_the_production_preset_end_to_end(
    celery_worker, dev_client, catalog, prod_env, settings
):
    # The sandbox cloud takes a moment to create the server, so the provider really waits for it.
    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 0.02
    version = catalog["postgres"]
    preset = production_preset(version)

    # The preset picker fills the form, as the browser's htmx request does.
    filled = dev_client.get(
        reverse("deployments:new", args=["postgres"]), {"preset": preset["name"]}, HTTP_HX_REQUEST="true"
    )
    assert filled.status_code == 200
    assert preset["name"] in filled.content.decode()

    response = dev_client.post(
        reverse("deployments:new", args=["postgres"]), form_data(prod_env, "orders-db", preset["params"])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    deployment = Deployment.objects.get(name="orders-db")
    assert deployment.params == preset["params"]
    run = wait_for_run(deployment.runs.get())

    assert run.status == "succeeded", run.error
    deployment.refresh_from_db()
    assert deployment.status == "live"
    assert deployment.outputs["instance_class"] == "db.r6g.large"
    assert deployment.outputs["port"] == 5432
    assert "password" not in deployment.outputs  # sensitive: stored encrypted, not in outputs
    assert deployment.sensitive_outputs

    # The server is in the sandbox cloud as the preset asked, and the outputs are what the cloud says.
    server = Resource.objects.get(pk=deployment.outputs["database_id"])
    assert (server.kind, server.name, server.status) == ("database", "checkout-production-orders-db", "available")
    assert server.attributes["storage_gb"] == preset["params"]["storage_gb"] == 200
    assert server.attributes["high_availability"] is True
    assert server.tags["slipway-deployment"] == str(deployment.pk)
    assert deployment.outputs["host"] == server.computed["endpoint"]
    # The cloud generated the password: Slipway holds it encrypted, the cloud only a digest.
    password = json.loads(decrypt(bytes(deployment.sensitive_outputs)))["password"]
    assert len(password) >= 24 and server.secret_digests["password"] != password
    assert password not in json.dumps([server.attributes, server.computed, server.secret_digests])

    seqs = list(run.log_lines.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    texts = list(run.log_lines.order_by("seq").values_list("text", flat=True))
    assert texts[0].startswith(f"Run #{run.pk}: apply")
    assert any("Apply complete!" in t for t in texts)
    assert not any(password in t for t in texts)
    assert texts.index(next(t for t in texts if "init" in t)) < texts.index(
        next(t for t in texts if "Apply complete" in t)
    )
    # The server, and from postgres 2.5.0 one sandbox_alarm per alarm the bundle declares.
    assert run.resources_done == run.resources_planned == 1 + len(catalog["postgres"].alarms)

    page = dev_client.get(deployment.get_absolute_url()).content.decode()
    assert "db.r6g.large" in page
    assert "Live" in page
    assert "sensitive" in page


def test_a_new_database_name_replaces_the_server_after_review(celery_worker, dev, catalog, proto_env):
    from deployments import services

    params = {"size": "small", "storage_gb": 20, "database_name": "orders"}
    deployment = services.deployment_create(
        environment=proto_env, name="db", bundle_version=catalog["postgres"], params=params, actor=dev
    )
    assert wait_for_run(deployment.runs.get()).status == "succeeded"
    first = Resource.objects.get(kind="database")

    run = wait_for_run(
        services.deployment_update(deployment=deployment, params=params | {"database_name": "ledger"}, actor=dev)
    )
    # A replacement never applies by itself: the plan waits, naming what is lost and why.
    assert run.status == "planned", run.error
    assert run.plan_summary["replace"] == 1
    change = next(c for c in run.plan_summary["resources"] if c["address"] == "sandbox_database.main")
    assert "because database_name changed" in change["words"]
    assert Resource.objects.get(kind="database").pk == first.pk  # nothing changed yet

    run = wait_for_run(run_services.run_confirm_apply(run=run, actor=dev))
    assert run.status == "succeeded", run.error
    second = Resource.objects.get(kind="database")
    assert second.pk != first.pk and second.attributes["database_name"] == "ledger"
    deployment.refresh_from_db()
    assert deployment.outputs["database_id"] == second.pk


def test_literal_values_reach_the_module_unchanged(celery_worker, dev_client, catalog, proto_env):
    message = '${file("/etc/passwd")} and %{ if true }x%{ endif }'
    response = dev_client.post(
        reverse("deployments:new", args=["echo"]), form_data(proto_env, "literal", {"message": message, "copies": 2})
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = wait_for_run(Run.objects.get(deployment__name="literal"))
    assert run.status == "succeeded", run.error
    deployment = run.deployment
    deployment.refresh_from_db()
    assert deployment.outputs["message"] == message
    assert deployment.outputs["copies"] == 2


def test_a_second_apply_reuses_the_stored_state(celery_worker, dev, catalog, proto_env):
    from deployments import services

    deployment = services.deployment_create(
        environment=proto_env, name="echo-state", bundle_version=catalog["echo"], params={"message": "one"}, actor=dev
    )
    wait_for_run(deployment.runs.get())
    run = services.deployment_update(deployment=deployment, params={"message": "two"}, actor=dev)
    run = wait_for_run(run)
    assert run.status == "succeeded", run.error
    # Without the stored state the engine would plan to add the resource again.
    assert run.plan_summary["add"] == 0 and run.plan_summary["change"] == 1
    deployment.refresh_from_db()
    assert deployment.outputs["message"] == "two"
    assert deployment.version == 2
    assert deployment.state_versions.count() >= 2


def test_a_1_0_0_database_moves_into_the_sandbox_with_its_params_after_review(celery_worker, dev, catalog, proto_env):
    from bundles.models import BundleVersion
    from deployments import services

    params = {"size": "medium", "storage_gb": 40, "database_name": "orders"}
    old = BundleVersion.objects.get(bundle__name="postgres", version="1.0.0")
    deployment = services.deployment_create(
        environment=proto_env, name="legacy", bundle_version=old, params=params, actor=dev
    )
    assert wait_for_run(deployment.runs.get()).status == "succeeded"
    assert not Resource.objects.exists()  # 1.0.0 is a model: nothing in the cloud

    run = wait_for_run(
        services.deployment_update(deployment=deployment, params=params, bundle_version=catalog["postgres"], actor=dev)
    )
    # The 1.0.0 model goes away: a destroy in the plan, so a person looks before it applies.
    assert run.status == "planned", run.error
    # The server, and from postgres 2.5.0 the alarms it wires in the cloud.
    added = 1 + len(catalog["postgres"].alarms)
    assert (run.plan_summary["add"], run.plan_summary["destroy"]) == (added, 2)
    run = wait_for_run(run_services.run_confirm_apply(run=run, actor=dev))
    assert run.status == "succeeded", run.error
    server = Resource.objects.get(kind="database")
    assert (server.attributes["size"], server.attributes["storage_gb"]) == ("medium", 40)
    deployment.refresh_from_db()
    assert deployment.bundle_version == catalog["postgres"] and deployment.outputs["database_id"] == server.pk
