"""The form engine through the browser's door: pages, htmx fragments, live validation versus submit."""

import pytest
from django.urls import reverse

from bundles.models import BundleVersion
from bundles.views import problems_summary
from deployments.models import Deployment, Run
from tests.bundles.formpost import read_form

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def tour(catalog):
    return catalog["form-tour"]


def url(version, action):
    return reverse("bundles:form", args=[version.bundle.name, version.version, action])


def page_form(client, version):
    """The new-deployment page's form data, as a browser would post it untouched."""
    response = client.get(reverse("deployments:new", args=[version.bundle.name]))
    assert response.status_code == 200
    return read_form(response.content.decode())


def test_the_new_page_draws_sections_rows_and_variants_with_labels(dev_client, tour, proto_env):
    data, _ = page_form(dev_client, tour)
    html = dev_client.get(reverse("deployments:new", args=["form-tour"])).content.decode()
    assert "<legend>Storage" in html and "<legend>Routes" in html
    assert 'name="_variant/auth"' in html and "Bearer token" in html
    assert data["param/storage/size_gb"] == "20"
    assert "param/standby_zone" not in data  # the condition does not hold yet


def test_switching_the_variant_swaps_in_its_sub_form(dev_client, tour, proto_env):
    data, _ = page_form(dev_client, tour)
    data["_variant/auth"] = "1"
    response = dev_client.post(url(tour, "refresh"), data, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="params"')
    assert 'name="param/auth/token_ttl_hours"' in html
    assert 'value="token"' in html


def test_a_conditional_field_appears_when_its_controller_changes(dev_client, tour, proto_env):
    data, _ = page_form(dev_client, tour)
    data["param/high_availability"] = "on"
    html = dev_client.post(url(tour, "refresh"), data, **HX).content.decode()
    assert 'name="param/standby_zone"' in html
    assert "This field is required" not in html  # not reached yet: no nagging


def test_rows_are_added_and_removed(dev_client, tour, proto_env):
    data, _ = page_form(dev_client, tour)
    data["_at"] = "/routes"
    html = dev_client.post(url(tour, "add"), data, **HX).content.decode()
    data, _ = read_form(html)
    assert data["_len/routes"] == "1"
    data["param/routes/0/path"] = "/a"
    data["_at"] = "/routes"
    data, _ = read_form(dev_client.post(url(tour, "add"), data, **HX).content.decode())
    assert data["_len/routes"] == "2" and data["param/routes/0/path"] == "/a"
    data["param/routes/1/path"] = "/b"
    data["_at"] = "/routes/0"
    data, _ = read_form(dev_client.post(url(tour, "remove"), data, **HX).content.decode())
    assert data["_len/routes"] == "1" and data["param/routes/0/path"] == "/b"


def test_live_validation_gives_the_same_verdict_as_submit(dev_client, tour, proto_env):
    data, _ = page_form(dev_client, tour)
    data["_variant/auth"] = "1"
    data, _ = read_form(dev_client.post(url(tour, "refresh"), data, **HX).content.decode())
    data.update({"param/name": "Bad Name", "param/storage/size_gb": "5", "param/auth/token_ttl_hours": "99"})
    live = dev_client.post(url(tour, "validate"), data, HTTP_HX_TRIGGER_NAME="param/storage/size_gb", **HX)
    html = live.content.decode()
    assert 'id="f-storage-size_gb-wrap"' in html and "Must be at least 10." in html
    assert "Must match the pattern" not in html  # only the changed field's own errors are drawn
    assert 'id="params-summary"' in html and 'hx-swap-oob="true"' in html

    submit_data = data.copy()
    submit_data.update({"environment": str(proto_env.pk), "name": "tour"})
    submit = dev_client.post(reverse("deployments:new", args=["form-tour"]), submit_data)
    assert submit.status_code == 400
    submitted = {f.pointer: f.errors for f in _all(submit.context["fields"]) if f.errors}
    assert (
        live.context["errors"]
        == submitted
        == {
            "/name": ["Must match the pattern ^[a-z][a-z0-9-]{1,30}$."],
            "/storage/size_gb": ["Must be at least 10."],
            "/auth/token_ttl_hours": ["Must be at most 72."],
        }
    )
    assert problems_summary(live.context["errors"]) in html


def test_a_valid_form_says_so_live(dev_client, tour, proto_env):
    data, _ = page_form(dev_client, tour)
    data.update({"param/name": "ok-name", "_variant/auth": "0"})
    response = dev_client.post(url(tour, "validate"), data, HTTP_HX_TRIGGER_NAME="param/name", **HX)
    assert response.context["errors"] == {}
    assert "No problems found" in response.content.decode()


def _all(fields):
    for f in fields:
        yield f
        yield from _all([*f.children, *f.rows])


def test_the_edit_form_locks_immutable_fields_after_a_successful_apply(dev_client, catalog, proto_env, dev):
    version = BundleVersion.objects.get(bundle__name="postgres", version="1.0.0")  # 2.0.0 lets the name change
    deployment = Deployment.objects.create(
        environment=proto_env, name="db", bundle_version=version, params={"database_name": "app"}, created_by=dev
    )
    edit = reverse("deployments:edit", args=[deployment.pk])
    assert 'name="param/database_name"' in dev_client.get(edit).content.decode()
    assert "Cannot be changed after the first successful apply" not in dev_client.get(edit).content.decode()
    Run.objects.create(deployment=deployment, action="apply", status="succeeded", params={}, bundle_version=version)
    html = dev_client.get(edit).content.decode()
    assert "Cannot be changed after the first successful apply" in html
    data, _ = read_form(html)
    data["param/database_name"] = "other"
    data["_deployment"] = str(deployment.pk)
    response = dev_client.post(url(version, "refresh"), data, **HX)
    assert response.context["params"]["database_name"] == "app"


def test_an_outsider_cannot_use_someone_elses_deployment_in_the_form_endpoint(
    client, outsider, catalog, proto_env, dev
):
    version = catalog["postgres"]
    deployment = Deployment.objects.create(
        environment=proto_env, name="db", bundle_version=version, params={}, created_by=dev
    )
    client.force_login(outsider)
    response = client.post(url(version, "refresh"), {"_deployment": str(deployment.pk)}, **HX)
    assert response.status_code == 404


def test_presets_still_fill_the_form_through_htmx(dev_client, catalog, proto_env):
    version = catalog["postgres"]
    preset = version.presets[1]
    response = dev_client.get(reverse("deployments:new", args=["postgres"]), {"preset": preset["name"]}, **HX)
    data, _ = read_form(response.content.decode())
    assert data["param/storage_gb"] == str(preset["params"]["storage_gb"])
    assert f"Filled from preset <strong>{preset['name']}</strong>" in response.content.decode()


def test_a_save_refused_because_someone_else_saved_stays_refused_until_reloaded(
    client, catalog, proto_env, dev, teammate
):
    deployment = Deployment.objects.create(
        environment=proto_env, name="shared", bundle_version=catalog["echo"], params={"message": "v1"}, created_by=dev
    )
    edit = reverse("deployments:edit", args=[deployment.pk])
    client.force_login(dev)
    mine, _ = read_form(client.get(edit).content.decode())  # dev opens the form...
    client.force_login(teammate)
    theirs, _ = read_form(client.get(edit).content.decode())
    theirs.update({"param/message": "teammate's", "reason": "theirs"})
    assert client.post(edit, theirs).status_code == 302  # ...a teammate saves first

    client.force_login(dev)
    mine.update({"param/message": "dev's", "reason": "mine"})
    refused = client.post(edit, mine)
    assert refused.status_code == 400 and "changed by someone else" in refused.content.decode()
    again, _ = read_form(refused.content.decode())  # dev presses Save again on the redrawn form
    assert client.post(edit, again).status_code == 400
    deployment.refresh_from_db()
    assert deployment.params == {"message": "teammate's"}
    fresh, _ = read_form(client.get(edit).content.decode())  # a reload shows their change and may save
    assert fresh["param/message"] == "teammate's"
