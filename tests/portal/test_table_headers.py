"""Every table header cell says what its column is, for a screen reader too (issue 19, accessibility)."""

import pytest
from django.urls import reverse

from portal.models import APIToken

pytestmark = pytest.mark.django_db


def test_the_tokens_table_names_its_actions_column(dev_client, dev):
    APIToken.issue(user=dev, name="laptop")
    page = dev_client.get(reverse("api-tokens")).content.decode()
    assert "laptop" in page
    assert "<th></th>" not in page and '<th><span class="sr-only">Actions</span></th>' in page
