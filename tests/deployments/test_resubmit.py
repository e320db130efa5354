"""A new-deployment form sent twice (a double click, a reload, a browser resending a POST whose connection
was closed) deploys once, and both answers lead to the same deployment."""

import re

import pytest
from django.urls import reverse

from deployments.models import Deployment, Run

pytestmark = pytest.mark.django_db

URL = reverse("deployments:new", args=["echo"])


def token(page: str) -> str:
    return re.search(r'name="submission" value="([^"]+)"', page).group(1)


def test_the_same_submit_twice_deploys_once_and_both_lead_to_it(dev_client, catalog, proto_env):
    page = dev_client.get(URL, {"environment": proto_env.pk}).content.decode()
    data = {"environment": proto_env.pk, "name": "orders-queue", "param/message": "hi", "submission": token(page)}
    first = dev_client.post(URL, data)
    again = dev_client.post(URL, data)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    deployment = Deployment.objects.get(name="orders-queue")
    assert first["Location"] == deployment.get_absolute_url()
    assert Run.objects.filter(deployment=deployment).count() == 1


def test_each_drawing_of_the_form_is_a_new_submit(dev_client, catalog, proto_env):
    tokens = {token(dev_client.get(URL, {"environment": proto_env.pk}).content.decode()) for _ in range(3)}
    assert len(tokens) == 3


def test_a_refused_submit_keeps_its_token_and_the_corrected_one_deploys(dev_client, catalog, proto_env):
    submission = token(dev_client.get(URL, {"environment": proto_env.pk}).content.decode())
    data = {"environment": proto_env.pk, "name": "Orders DB!", "param/message": "hi", "submission": submission}
    refused = dev_client.post(URL, data)
    assert refused.status_code == 400 and token(refused.content.decode()) == submission
    corrected = dev_client.post(URL, {**data, "name": "orders-db"})
    assert corrected.status_code == 302 and Deployment.objects.filter(name="orders-db").exists()


def test_other_fields_under_a_used_token_are_a_submit_of_their_own(dev_client, catalog, proto_env):
    submission = token(dev_client.get(URL, {"environment": proto_env.pk}).content.decode())
    data = {"environment": proto_env.pk, "name": "first", "param/message": "hi", "submission": submission}
    assert dev_client.post(URL, data).status_code == 302
    second = dev_client.post(URL, {**data, "name": "second"})
    assert second.status_code == 302 and set(Deployment.objects.values_list("name", flat=True)) == {"first", "second"}


def test_without_a_token_the_second_submit_says_the_name_is_taken(dev_client, catalog, proto_env):
    data = {"environment": proto_env.pk, "name": "orders-queue", "param/message": "hi"}
    assert dev_client.post(URL, data).status_code == 302
    again = dev_client.post(URL, data)
    assert again.status_code == 400 and "already exists" in again.content.decode()
    assert Deployment.objects.count() == 1
