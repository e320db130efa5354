"""One rule for a deployment's name (it becomes a DNS host name), the same words through every door."""

import json

import pytest
from django.urls import reverse

from deployments import services
from deployments.models import Deployment, Run
from deployments.names import NAME_HELP, name_error
from portal.errors import ServiceError

pytestmark = pytest.mark.django_db

BAD = ["Orders_DB", "Orders DB!", "orders_db", "9lives", "orders-", "-orders", "órders", "a" * 61, ""]
GOOD = ["orders-db", "db", "a", "orders2", "a" * 60]


@pytest.mark.parametrize("name", GOOD)
def test_dns_labels_are_names(name):
    assert name_error(name) is None


@pytest.mark.parametrize("name", BAD)
def test_anything_else_is_refused_in_the_help_texts_words(name):
    message = name_error(name)
    assert message
    assert "slug" not in message.lower()


def test_the_message_suggests_a_name_that_would_do():
    assert "'orders-db' would do" in name_error("Orders_DB")
    assert "'orders-db' would do" in name_error("Orders DB!")
    assert "lowercase letters, digits and dashes" in NAME_HELP.lower()


def test_the_form_refuses_an_underscore_with_the_help_texts_words(dev_client, catalog, proto_env):
    response = dev_client.post(
        reverse("deployments:new", args=["postgres"]), {"environment": proto_env.pk, "name": "Orders_DB"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "would do" in page
    assert "slug" not in page.lower()
    assert not Deployment.objects.exists()


def test_the_api_and_so_the_cli_refuse_the_same_name_with_the_same_words(client, dev, catalog, proto_env):
    client.force_login(dev)
    response = client.post(
        "/api/v1/deployments/",
        data=json.dumps({"environment": proto_env.pk, "name": "Orders DB!", "bundle": "postgres", "params": {}}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    text = json.dumps(response.json())
    assert name_error("Orders DB!").replace("'", "") in text.replace("'", "").replace('\\"', "")
    assert "slug" not in text.lower()
    assert not Run.objects.exists()


def test_the_service_refuses_it_too(dev, catalog, proto_env):
    with pytest.raises(ServiceError) as caught:
        services.deployment_create(
            environment=proto_env, name="Orders_DB", bundle_version=catalog["postgres"], params={}, actor=dev
        )
    assert caught.value.field == "name"
    assert not Deployment.objects.exists()
