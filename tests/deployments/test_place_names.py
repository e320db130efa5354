"""One name for each place: an environment reads ``checkout/proto`` on every page (as typed in the CLI and API),
never "Checkout / Prototype" or "checkout / proto", and its tier is never said twice ("Prototype (Prototype)")."""

import re

import pytest
from django.urls import reverse

from deployments.forms import EnvironmentChoiceField
from deployments.models import Deployment, Environment

pytestmark = pytest.mark.django_db


def test_every_page_names_the_environment_the_same_way(dev_client, catalog, proto_env, prod_env):
    d = Deployment.objects.create(
        environment=proto_env, name="orders-db", bundle_version=catalog["postgres"], params={}, status="live"
    )
    pages = {
        "list": reverse("deployments:list"),
        "estate": reverse("deployments:estate") + "?q=name:orders-db",
        "search": reverse("search") + "?q=orders",
        "detail": d.get_absolute_url(),
        "canvas": reverse("deployments:canvas", args=[proto_env.pk]),
    }
    for name, url in pages.items():
        response = dev_client.get(url)
        assert response.status_code == 200, name
        text = re.sub(r"<[^>]+>", "", response.content.decode())
        assert "checkout/proto" in text, name
        assert "Checkout / Prototype" not in text and "checkout / proto" not in text, name
        assert "Prototype (Prototype)" not in text, name
    labels = EnvironmentChoiceField(queryset=Environment.objects.all())
    assert labels.label_from_instance(proto_env) == "checkout/proto (Prototype)"
    assert labels.label_from_instance(prod_env) == "checkout/production"
