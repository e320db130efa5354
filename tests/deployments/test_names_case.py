"""Issue 11, item 12: deployment names are unique within an environment whatever their case.

New names are lowercase DNS labels (``deployments.names``), so a clash in case comes from a name that
was allowed before that rule (``legacy``: written as it was stored then)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.test import APIClient

from deployments import services
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


def create(env, name, catalog, dev):
    return services.deployment_create(
        environment=env, name=name, bundle_version=catalog["echo"], params={"message": "x"}, actor=dev
    )


def legacy(env, name, catalog):
    return Deployment.objects.create(
        environment=env, name=name, bundle_version=catalog["echo"], params={"message": "x"}, status="live"
    )


def test_the_service_refuses_a_name_that_differs_only_in_case(dev, catalog, proto_env, prod_env):
    legacy(proto_env, "ABC", catalog)
    with pytest.raises(services.ServiceError) as refused:
        create(proto_env, "abc", catalog, dev)
    assert refused.value.field == "name" and "'ABC'" in refused.value.message
    create(prod_env, "abc", catalog, dev)  # another environment may use it
    assert Deployment.objects.filter(name__iexact="abc").count() == 2


def test_the_database_refuses_it_too(dev, catalog, proto_env):
    first = create(proto_env, "web", catalog, dev)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(
            environment=proto_env, name="WEB", bundle_version=first.bundle_version, params={}, status="draft"
        )


def test_the_api_answers_a_field_error(dev, catalog, proto_env):
    legacy(proto_env, "API-One", catalog)
    api = APIClient()
    api.force_authenticate(dev)
    body = {"environment": proto_env.pk, "name": "api-one", "bundle": "echo", "params": {"message": "y"}}
    response = api.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400
    assert "/name" in response.json()["errors"]


def test_the_form_answers_a_field_error(dev_client, dev, catalog, proto_env):
    legacy(proto_env, "FORM-ONE", catalog)
    response = dev_client.post(
        reverse("deployments:new", args=["echo"]),
        {"environment": proto_env.pk, "name": "form-one", "param/message": "y"},
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Deployment.objects.count() == 1


def _migrate_to(*targets):
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_reports_existing_clashes_instead_of_failing(dev, catalog, proto_env):
    before = ("deployments", "0006_history_audit_columns")
    named = ("deployments", "0007_deployment_name_case_insensitive")
    _migrate_to(before)
    # The model as the table is at that point (later migrations add columns the current model has).
    old = MigrationExecutor(connection).loader.project_state(before).apps.get_model("deployments", "Deployment")
    try:
        for name in ("Clash", "clash"):  # the old schema allowed it
            old.objects.create(
                environment_id=proto_env.pk, name=name, bundle_version_id=catalog["echo"].pk, params={}, status="draft"
            )
        report = io.StringIO()
        with redirect_stderr(report):
            _migrate_to(named)
        assert "environment" in report.getvalue() and "Clash, clash" in report.getvalue()
        with connection.cursor() as cursor:
            names = connection.introspection.get_constraints(cursor, Deployment._meta.db_table)
        assert "deployment_unique_name_ci" not in names  # left out while clashes existed
    finally:
        old.objects.filter(name__iexact="clash").delete()
    try:
        # Once renamed, migrating back and forth adds it.
        _migrate_to(before)
        _migrate_to(named)
        with connection.cursor() as cursor:
            assert "deployment_unique_name_ci" in connection.introspection.get_constraints(
                cursor, Deployment._meta.db_table
            )
    finally:
        _migrate_to()  # every app at its latest migration again, for the tests after this one
