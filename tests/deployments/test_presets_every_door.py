"""One rule for presets and defaults: every preset of every catalog and fixture bundle deploys unchanged
through the form, the API and the CLI, and all three store the same params.

The rule (``bundles.schema.starting_params``): the schema's defaults, the preset deep-merged over them,
the caller's params over that, then the defaults of fields the result opens.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from bundles.schema import starting_params
from deployments.models import Deployment
from tests.bundles.formpost import read_form
from tests.cli.test_cli import slipway  # noqa: F401 (the fixture: the CLI in its own process)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _presets(catalog):
    for name, version in sorted(catalog.items()):
        if any(c.get("required", True) and not c.get("env_default") for c in version.connections):
            # A required connection with no environment default must be named, and the CLI cannot name
            # connections yet (issue 14, open): such a bundle (web-service 2.2.0 and later) is left out here.
            continue
        for preset in version.presets:
            yield name, version, preset


def test_every_preset_deploys_the_same_params_through_the_form_the_api_and_the_cli(
    slipway,  # noqa: F811
    dev_client,
    catalog,
    proto_env,
):
    found = list(_presets(catalog))
    assert len(found) >= 10 and any(name == "queue-rjsf" for name, _, _ in found)
    for index, (name, version, preset) in enumerate(found):
        expected = starting_params(version.params_schema, preset)

        # The form: the page the preset picker draws, submitted as a browser submits it.
        page = dev_client.get(reverse("deployments:new", args=[name]), {"preset": preset["name"]})
        assert page.status_code == 200
        data, _ = read_form(page.content.decode())
        data.setlist("name", [f"form-{index}"])
        data.setlist("environment", [str(proto_env.pk)])
        response = dev_client.post(reverse("deployments:new", args=[name]), data)
        assert response.status_code in (200, 302), (name, preset["name"], response.status_code)
        by_form = Deployment.objects.filter(name=f"form-{index}").first()
        assert by_form is not None, (name, preset["name"], response.content.decode()[:2000])

        # The API, naming the preset.
        response = dev_client.post(
            "/api/v1/deployments/",
            {"environment": proto_env.pk, "name": f"api-{index}", "bundle": name, "preset": preset["name"]},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        by_api = Deployment.objects.get(name=f"api-{index}")

        # The CLI, naming the preset.
        result = slipway(
            "deploy",
            name,
            "--project",
            "checkout",
            "--env",
            "proto",
            "--name",
            f"cli-{index}",
            "--preset",
            preset["name"],
        )
        assert result.returncode == 0, result.stderr
        by_cli = Deployment.objects.get(name=f"cli-{index}")

        assert by_form.params == by_api.params == by_cli.params == expected, (name, preset["name"])
        for key, value in preset["params"].items():
            if not isinstance(value, dict):
                assert expected[key] == value, "a preset's value is never overridden by a default"


def test_a_partial_preset_keeps_the_nested_defaults_it_does_not_set():
    schema = {
        "type": "object",
        "properties": {
            "storage": {
                "type": "object",
                "properties": {"gb": {"type": "integer", "default": 100}, "iops": {"type": "integer", "default": 3000}},
            },
            "tags": {"type": "array", "items": {"type": "string"}, "default": ["a", "b"]},
        },
    }
    preset = {"params": {"storage": {"gb": 500}, "tags": ["c"]}}
    # objects are merged key by key; arrays are replaced
    assert starting_params(schema, preset) == {"storage": {"gb": 500, "iops": 3000}, "tags": ["c"]}
    assert starting_params(schema, preset, {"storage": {"iops": 1}}) == {
        "storage": {"gb": 500, "iops": 1},
        "tags": ["c"],
    }
