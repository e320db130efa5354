"""The top bar shows the signed-in person once."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["home", "deployments:list", "deployments:estate", "api-tokens"])
def test_the_top_bar_names_the_person_once(dev_client, dev, name):
    page = dev_client.get(reverse(name)).content.decode()
    bar = page.split('<header class="topbar">')[1].split("</header>")[0]
    text = re.sub(r"<[^>]+>", " ", bar)
    assert len(re.findall(rf"\b{re.escape(dev.get_username())}\b", text)) == 1
