"""A developer deploys catalog bundles through the web form; a real worker runs the real engine."""

import pytest
from django.urls import reverse

from deployments.models import Deployment, Run
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


def test_it_deploys_postgres_from_the_production_preset_end_to_end(celery_worker, dev_client, catalog, prod_env):
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
    assert deployment.outputs["host"].endswith(".postgres.internal")
    assert "password" not in deployment.outputs  # sensitive: stored encrypted, not in outputs
    assert deployment.sensitive_outputs

    seqs = list(run.log_lines.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    texts = list(run.log_lines.order_by("seq").values_list("text", flat=True))
    assert texts[0].startswith(f"Run #{run.pk}: apply")
    assert any("Apply complete!" in t for t in texts)
    assert texts.index(next(t for t in texts if "init" in t)) < texts.index(
        next(t for t in texts if "Apply complete" in t)
    )
    assert run.resources_done == run.resources_planned == 2

    page = dev_client.get(deployment.get_absolute_url()).content.decode()
    assert "db.r6g.large" in page
    assert "Live" in page
    assert "sensitive" in page


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
