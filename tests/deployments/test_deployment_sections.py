"""The deployment page opens on what a person woken at night needs: the status, the last change (who, why,
key by key) and the way back, then tabs (Overview, Runs, Configuration and history, Outputs, Runbook), each a
link the server answers with that tab open, so they work without JavaScript (tests/e2e/test_deployment_tabs.py
has the ARIA tabs in a browser)."""

import re

import pytest
from django.urls import reverse

from deployments import services
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def changed(dev, teammate, catalog, proto_env):
    catalog["workbench"].runbook = "## When it pages\nRestore the last configuration."
    catalog["workbench"].save(update_fields=["runbook"])
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
    # Before the tabs, so it shows whichever tab is open.
    assert page.index("last-change-h") < page.index('aria-label="Sections of this deployment"')


def panels(page: str) -> dict[str, bool]:
    """Each tab panel of the page: whether it is open."""
    return {m[0]: not m[1] for m in re.findall(r'<div id="([a-z]+)" class="tab-panel"[^>]*?( hidden)?>', page)}


def test_each_tab_is_a_link_the_server_answers_with_that_tab_open(dev_client, changed):
    page = dev_client.get(changed.get_absolute_url()).content.decode()
    bar = re.search(
        r'<nav class="section-tabs" aria-label="Sections of this deployment" data-tabs>(.*?)</nav>', page, re.S
    )
    assert bar, "no tabs"
    links = re.findall(r'href="\?tab=([a-z]+)"[^>]*>([^<]+)</a>', bar.group(1))
    assert links == [
        ("overview", "Overview"),
        ("runs", "Runs"),
        ("configuration", "Configuration and history"),
        ("outputs", "Outputs"),
        ("runbook", "Runbook"),
    ]
    assert panels(page) == {"overview": True, "runs": False, "configuration": False, "outputs": False, "runbook": False}
    assert 'aria-current="page">Overview</a>' in page

    runs = dev_client.get(changed.get_absolute_url(), {"tab": "runs"}).content.decode()
    assert panels(runs) == {"overview": False, "runs": True, "configuration": False, "outputs": False, "runbook": False}
    assert 'aria-current="page">Runs</a>' in runs
    # Whichever tab is open, the status, the last change and its Restore are on top.
    for tab in ("runs", "configuration", "outputs", "runbook"):
        shown = dev_client.get(changed.get_absolute_url(), {"tab": tab}).content.decode()
        assert 'id="dep-status"' in shown and "friendlier greeting" in shown
        assert "Restore the configuration before it" in shown
    # A tab that does not exist opens the overview.
    odd = dev_client.get(changed.get_absolute_url(), {"tab": "<script>"}).content.decode()
    assert panels(odd)["overview"] is True


def test_the_configuration_tab_lists_the_latest_changes_with_who_and_why(dev_client, changed):
    page = dev_client.get(changed.get_absolute_url(), {"tab": "configuration"}).content.decode()
    tab = page[page.index('<div id="configuration" class="tab-panel"') :]
    tab = tab[: tab.index('<div id="outputs" class="tab-panel"')]
    assert "Configuration changed</a>" in tab and "teammate" in tab and "friendlier greeting" in tab
    assert "Created</a>" in tab and "first greeter" in tab
    assert reverse("audit:deployment-history", args=[changed.pk]) in tab


def test_a_bundle_without_a_runbook_has_no_runbook_tab(dev_client, dev, catalog, proto_env):
    version = catalog["workbench"]
    version.runbook = ""
    version.save(update_fields=["runbook"])
    deployment = services.deployment_create(
        environment=proto_env, name="plain", bundle_version=version, params={"message": "hi"}, actor=dev
    )
    page = dev_client.get(deployment.get_absolute_url(), {"tab": "runbook"}).content.decode()
    assert "runbook" not in panels(page)
    assert panels(page)["overview"] is True


def test_a_reader_who_cannot_change_it_sees_the_change_but_no_restore(client, auditor, changed):
    client.force_login(auditor)
    page = client.get(changed.get_absolute_url()).content.decode()
    assert "friendlier greeting" in page
    assert "Restore the configuration before it" not in page
