"""The deployment page opens on what a person woken at night needs: the status, the last change (who, why,
key by key) and the way back, then a bar of links to its sections that works without JavaScript."""

import re

import pytest
from django.urls import reverse

from deployments import services
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def changed(dev, teammate, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env,
        name="greeter",
        bundle_version=catalog["workbench"],
        params={"message": "hello"},
        actor=dev,
        reason="first greeter",
    )
    services.deployment_update(
        deployment=Deployment.objects.get(pk=deployment.pk),
        params={"message": "broken"},
        actor=teammate,
        reason="friendlier greeting",
    )
    return Deployment.objects.get(pk=deployment.pk)


def test_the_last_change_and_its_restore_come_before_the_rest(dev_client, changed):
    page = dev_client.get(changed.get_absolute_url()).content.decode()
    box = page[page.index('aria-labelledby="last-change-h"') :]
    box = box[: box.index("</section>")]
    assert "teammate" in box and "friendlier greeting" in box
    assert "hello" in box and "broken" in box  # the diff, key by key
    first = changed.history.order_by("history_date", "history_id").first()
    restore = reverse("audit:deployment-restore", args=[changed.pk, first.history_id])
    assert f'href="{restore}"' in box
    # Before the configuration, the outputs and the runs.
    assert page.index("last-change-h") < page.index('id="configuration"') < page.index('id="runs"')


def test_the_section_bar_links_to_every_section_of_the_page(dev_client, changed):
    page = dev_client.get(changed.get_absolute_url()).content.decode()
    bar = re.search(r'<nav class="section-tabs" aria-label="Sections of this deployment">(.*?)</nav>', page, re.S)
    assert bar, "no section bar"
    targets = re.findall(r'href="#([a-z]+)"', bar.group(1))
    assert targets[:4] == ["overview", "runs", "configuration", "outputs"]
    for target in targets:
        assert f'id="{target}"' in page, target


def test_a_reader_who_cannot_change_it_sees_the_change_but_no_restore(client, auditor, changed):
    client.force_login(auditor)
    page = client.get(changed.get_absolute_url()).content.decode()
    assert "friendlier greeting" in page
    assert "Restore the configuration before it" not in page
