"""Changes the module cannot make: ``x-only-increase`` (a number that only grows, an enum value that only
moves to a later option) is enforced by the form, the API, restore and bulk changes, in words, and restore
shows what it would change before anything runs (issue 19, logic problem 4)."""

import copy
import json

import pytest
from django.urls import reverse

from deployments import services
from deployments.choices import RunAction, RunStatus
from deployments.estate import bulk
from deployments.models import BulkChange, Deployment, Run
from deployments.services import ParamsInvalid, shrunk_values

from .test_bulk import drive_until_settled

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {
        "size": {"enum": ["small", "medium", "large"], "x-only-increase": True, "title": "Size", "default": "small"},
        "storage_gb": {"type": "integer", "title": "Storage", "x-unit": "GiB", "x-only-increase": True, "default": 20},
        "note": {"type": "string"},
    },
}
PARAMS = {"size": "small", "storage_gb": 20, "high_availability": False, "backup_retention_days": 7}


def test_a_smaller_number_or_an_earlier_choice_is_refused_in_words():
    current = {"size": "medium", "storage_gb": 100}
    errors = shrunk_values(SCHEMA, current, {"size": "small", "storage_gb": 50})
    assert errors["/storage_gb"] == [
        "Storage can only increase: it is 100 GiB now, and 50 GiB would reduce it, which the module cannot do. "
        "Keep it, or choose a larger value."
    ]
    assert "Size can only increase: it is medium now, and small would reduce it" in errors["/size"][0]


def test_growing_keeping_or_changing_other_fields_is_fine():
    current = {"size": "medium", "storage_gb": 100, "note": "a"}
    assert shrunk_values(SCHEMA, current, {"size": "large", "storage_gb": 200, "note": "b"}) == {}
    assert shrunk_values(SCHEMA, current, current) == {}


def test_a_value_left_out_counts_as_its_default():
    assert "/storage_gb" in shrunk_values(SCHEMA, {"storage_gb": 100}, {})


@pytest.fixture
def growing(catalog):
    """postgres whose storage and size may only grow (what its runbook says)."""
    version = catalog["postgres"]
    schema = copy.deepcopy(version.params_schema)
    schema["properties"]["storage_gb"]["x-only-increase"] = True
    schema["properties"]["size"]["x-only-increase"] = True
    version.params_schema = schema
    version.save()
    return version


def _applied(deployment):
    Run.objects.create(
        deployment=deployment,
        action=RunAction.APPLY,
        status=RunStatus.SUCCEEDED,
        bundle_version=deployment.bundle_version,
        params=deployment.params,
    )
    return deployment


@pytest.fixture
def database(dev, growing, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="db", bundle_version=growing, params={**PARAMS, "storage_gb": 100}, actor=dev
    )
    Run.objects.filter(deployment=deployment).update(status=RunStatus.SUCCEEDED)
    deployment.params = {**deployment.params}
    deployment.save()
    return deployment


def test_before_the_first_apply_anything_goes(dev, growing, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="db", bundle_version=growing, params={**PARAMS, "storage_gb": 100}, actor=dev
    )
    Run.objects.filter(deployment=deployment).update(status=RunStatus.FAILED)
    services.deployment_update(deployment=deployment, params={**PARAMS, "storage_gb": 50}, actor=dev)


def test_the_service_refuses_to_shrink_an_applied_deployment(dev, database):
    with pytest.raises(ParamsInvalid) as caught:
        services.deployment_update(deployment=database, params={**PARAMS, "storage_gb": 50}, actor=dev)
    assert "can only increase" in caught.value.errors["/storage_gb"][0]
    services.deployment_update(deployment=database, params={**PARAMS, "storage_gb": 200}, actor=dev)


def test_the_api_refuses_it_beside_the_field(client, dev, database):
    client.force_login(dev)
    response = client.post(
        f"/api/v1/deployments/{database.pk}/apply/",
        data=json.dumps({"params": {**PARAMS, "storage_gb": 50}}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "can only increase" in json.dumps(response.json()["errors"])


def test_the_edit_form_refuses_it_beside_the_field_and_says_so_before(dev_client, database):
    url = reverse("deployments:edit", args=[database.pk])
    assert "Once applied, it can only move to a larger value." in dev_client.get(url).content.decode()
    data = {f"param/{k}": str(v) for k, v in PARAMS.items() if not isinstance(v, bool)}
    data.update({"param/storage_gb": "50", "expected_version": str(database.version)})
    page = dev_client.post(url, data).content.decode()
    errors = page[page.index('id="f-storage_gb-errors"') :][:600]
    assert "Storage can only increase: it is 100 GiB now" in errors


def test_restore_previews_the_change_and_refuses_a_shrink_before_anything_runs(dev, dev_client, database):
    first = database.history.order_by("history_date", "history_id").first()
    services.deployment_update(deployment=database, params={**PARAMS, "storage_gb": 300}, actor=dev)
    _applied(Deployment.objects.get(pk=database.pk))
    runs = Run.objects.count()
    url = reverse("audit:deployment-restore", args=[database.pk, first.history_id])
    page = dev_client.get(url).content.decode()
    assert "What the restore changes" in page and "300 GiB" in page and "100 GiB" in page
    assert "This configuration cannot be restored" in page and "can only increase" in page
    assert 'type="submit">Restore<' not in page
    refused = dev_client.post(url, {"reason": "back"})
    assert refused.status_code == 302 and Run.objects.count() == runs


def test_restore_preview_offers_the_restore_with_a_plan_review(dev, dev_client, database):
    first = database.history.order_by("history_date", "history_id").first()
    services.deployment_update(
        deployment=database, params={**PARAMS, "storage_gb": 100, "backup_retention_days": 14}, actor=dev
    )
    url = reverse("audit:deployment-restore", args=[database.pk, first.history_id])
    page = dev_client.get(url).content.decode()
    assert "This configuration cannot be restored" not in page
    table = page[page.index('<table class="table compare">') :]
    assert "14" in table and "7" in table and "Storage" not in table  # only what changes
    assert 'name="review_first" checked' in page
    response = dev_client.post(url, {"reason": "back", "review_first": "on"})
    run = Run.objects.filter(deployment=database).latest("created_at")
    assert response.url == run.get_absolute_url() and run.auto_apply is False


def test_restore_preview_is_for_those_who_may_restore(client, auditor, database):
    client.force_login(auditor)
    first = database.history.order_by("history_date", "history_id").first()
    assert client.get(reverse("audit:deployment-restore", args=[database.pk, first.history_id])).status_code == 403


def test_a_bulk_change_that_shrinks_is_invalid_in_the_dry_run(ops, database):
    change = bulk.bulk_change_create(
        title="smaller", query="bundle:postgres", patch=[{"op": "set", "path": "/storage_gb", "value": 50}], actor=ops
    )
    bulk.bulk_dry_run_start(bulk=change, actor=ops, plan=False)
    change = drive_until_settled(change)
    assert change.status == BulkChange.Status.TESTED
    target = change.targets.get()
    assert target.verdict == "invalid" and "can only increase" in target.errors["/storage_gb"][0]


def test_the_catalogs_postgres_storage_only_grows_from_2_4_0(dev, catalog, proto_env):
    """The shipped bundle says it itself now (a new version: published versions never change)."""
    assert catalog["postgres"].version >= "2.4.0"
    deployment = services.deployment_create(
        environment=proto_env,
        name="db",
        bundle_version=catalog["postgres"],
        params={**PARAMS, "storage_gb": 100},
        actor=dev,
    )
    Run.objects.filter(deployment=deployment).update(status=RunStatus.SUCCEEDED)
    with pytest.raises(ParamsInvalid) as caught:
        services.deployment_update(deployment=deployment, params={**PARAMS, "storage_gb": 50}, actor=dev)
    assert "can only increase" in caught.value.errors["/storage_gb"][0]
    services.deployment_update(deployment=deployment, params={**PARAMS, "size": "medium", "storage_gb": 100}, actor=dev)
