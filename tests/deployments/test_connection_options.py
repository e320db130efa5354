"""``x-options-from``: a param's choices come from the connected producer's artifact (a network's subnets). The
form draws them and redraws them when the connection changes; every door refuses a value not offered now."""

import io
import re
import shutil

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.services import deployment_restore, restore_preview
from bundles.options import choices_in
from deployments import services
from deployments.connections.services import artifact_store
from deployments.environments.fork import environment_fork
from deployments.estate import bulk
from deployments.models import BulkChange, Deployment
from portal.errors import ParamsInvalid
from tests.conftest import FIXTURE_BUNDLES
from tests.deployments.test_bulk import drive_until_settled
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db


def subnets(prefix: str, second: int) -> list[dict]:
    return [
        {"id": f"{prefix}-{zone}", "cidr_block": f"10.{second}.{i * 16}.0/20", "zone": zone}
        for i, zone in enumerate("abc")
    ]


def network(env, catalog, name, dev, second=0):
    specs = {"network_id": name, "cidr_block": f"10.{second}.0.0/16", "subnets": subnets(name, second)}
    return live(create(env, catalog, "network", name, dev), specs=specs)


def options(page: str, name: str) -> list[tuple[str, str]]:
    """The choices drawn for a param: a select's options, or radios (a few choices) with their labels."""
    select = re.search(rf'<select[^>]*name="param/{name}"[^>]*>(.*?)</select>', page, re.S)
    if select:
        found = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))
    else:
        found = re.findall(rf'<input type="radio"[^>]*name="param/{name}" value="([^"]*)"[^>]*> ([^<]*)</label>', page)
    assert found, f"no choices for {name}"
    return [(v, label.strip()) for v, label in found if v and not v.startswith("json:")]  # not a kept stale value


def test_choices_are_read_from_the_specs_list_by_value_and_label():
    spec = {"connection": "network", "path": "specs.subnets", "value": "id", "label": "cidr_block"}
    found = subnets("n", 1)
    assert choices_in(spec, {"subnets": found}) == [
        ("n-a", "10.1.0.0/20"),
        ("n-b", "10.1.16.0/20"),
        ("n-c", "10.1.32.0/20"),
    ]
    assert choices_in({**spec, "label": None}, {"subnets": found[:1]}) == [("n-a", "n-a")]
    assert choices_in(spec, {}) == [] and choices_in(spec, {"subnets": "not a list"}) == []
    assert choices_in({"connection": "x", "path": "specs.zones"}, {"zones": ["a", "b"]}) == [("a", "a"), ("b", "b")]


def test_the_service_takes_a_value_the_connected_producer_offers_and_refuses_others(catalog, proto_env, dev):
    main = network(proto_env, catalog, "main-net", dev)
    network(proto_env, catalog, "other-net", dev, second=1)
    placed = create(proto_env, catalog, "placed", "api", dev, params={"subnet": "main-net-b"})
    assert placed.connections == {"network": str(main.pk)} and placed.params["subnet"] == "main-net-b"
    with pytest.raises(ParamsInvalid) as caught:
        create(
            proto_env,
            catalog,
            "placed",
            "api2",
            dev,
            params={"subnet": "main-net-b", "extra_subnets": ["main-net-a", "nowhere"]},
            connections={"network": "other-net"},
        )
    assert caught.value.errors == {
        "/subnet": [
            "Subnet cannot be 'main-net-b': it is not one of other-net's choices (10.1.0.0/20, 10.1.16.0/20, "
            "10.1.32.0/20)."
        ],
        "/extra_subnets/0": [
            "0 cannot be 'main-net-a': it is not one of other-net's choices (other-net-a, other-net-b, other-net-c)."
        ],
        "/extra_subnets/1": [
            "1 cannot be 'nowhere': it is not one of other-net's choices (other-net-a, other-net-b, other-net-c)."
        ],
    }
    # A change moving the connection must move the value with it.
    with pytest.raises(ParamsInvalid) as caught:
        services.deployment_update(
            deployment=placed, params={"subnet": "main-net-b"}, actor=dev, connections={"network": "other-net"}
        )
    assert list(caught.value.errors) == ["/subnet"]
    services.deployment_update(
        deployment=placed, params={"subnet": "other-net-c"}, actor=dev, connections={"network": "other-net"}
    )
    placed.refresh_from_db()
    assert placed.params["subnet"] == "other-net-c"


def test_a_producer_publishing_no_choices_is_said_in_words(catalog, proto_env, dev):
    live(
        create(proto_env, catalog, "network", "old-net", dev),
        specs={"network_id": "n", "cidr_block": "10.0.0.0/16"},  # a network of before 1.3.0: no subnets
    )
    with pytest.raises(ParamsInvalid) as caught:
        create(proto_env, catalog, "placed", "api", dev, params={"subnet": "x"})
    assert caught.value.errors == {
        "/subnet": ["Subnet cannot be 'x': old-net publishes nothing to choose from (specs.subnets)."]
    }
    assert create(proto_env, catalog, "placed", "api", dev, params={}).params == {}  # optional: left out is fine


def test_the_api_refuses_a_value_not_offered_beside_the_field(dev_client, catalog, proto_env, dev):
    network(proto_env, catalog, "main-net", dev)
    body = {"environment": proto_env.pk, "name": "api", "bundle": "placed", "params": {"subnet": "elsewhere"}}
    refused = dev_client.post("/api/v1/deployments/", body, content_type="application/json")
    assert refused.status_code == 400, refused.content
    assert "Subnet cannot be 'elsewhere'" in refused.json()["errors"]["/params/subnet"][0]
    body["params"]["subnet"] = "main-net-a"
    assert dev_client.post("/api/v1/deployments/", body, content_type="application/json").status_code == 201


def test_the_form_offers_the_connected_networks_subnets_and_redraws_when_the_connection_changes(
    dev_client, catalog, proto_env, dev
):
    main = network(proto_env, catalog, "main-net", dev)
    other = network(proto_env, catalog, "other-net", dev, second=1)
    page = dev_client.get(reverse("deployments:new", args=["placed"]), {"environment": proto_env.pk}).content.decode()
    assert options(page, "subnet") == [
        ("main-net-a", "10.0.0.0/20"),
        ("main-net-b", "10.0.16.0/20"),
        ("main-net-c", "10.0.32.0/20"),
    ]
    assert "The choices come from main-net (Network)." in page
    # The connection's select redraws the params through the form engine.
    refresh = reverse("bundles:form", args=["placed", catalog["placed"].version, "refresh"])
    assert f'hx-post="{refresh}"' in re.search(r'<select id="conn-network"[^>]*>', page).group(0)
    drawn = dev_client.post(
        refresh, {"environment": proto_env.pk, "connection/network": str(other.pk), "param/subnet": "main-net-a"}
    ).content.decode()
    assert [v for v, _ in options(drawn, "subnet")] == ["other-net-a", "other-net-b", "other-net-c"]
    assert "main-net-a (not allowed any more)" in drawn  # the old pick is kept on screen, to be changed
    # The live check says what submit will say.
    checked = dev_client.post(
        reverse("bundles:form", args=["placed", catalog["placed"].version, "validate"]),
        {"environment": proto_env.pk, "connection/network": str(other.pk), "param/subnet": "main-net-a"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TRIGGER_NAME="param/subnet",
    ).content.decode()
    assert "Subnet cannot be &#x27;main-net-a&#x27;: it is not one of other-net&#x27;s choices" in checked
    # Submit: refused beside the field, then saved with a subnet of the network picked.
    data = {"environment": proto_env.pk, "name": "api", "reason": "", "connection/network": str(other.pk)}
    refused = dev_client.post(reverse("deployments:new", args=["placed"]), {**data, "param/subnet": "main-net-a"})
    assert refused.status_code == 400
    assert "Subnet cannot be &#x27;main-net-a&#x27;" in refused.content.decode()
    saved = dev_client.post(reverse("deployments:new", args=["placed"]), {**data, "param/subnet": "other-net-b"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    api = Deployment.objects.get(name="api")
    assert api.connections == {"network": str(other.pk)} and api.params["subnet"] == "other-net-b"
    edit = dev_client.get(reverse("deployments:edit", args=[api.pk])).content.decode()
    assert [v for v, _ in options(edit, "subnet")] == ["other-net-a", "other-net-b", "other-net-c"]
    assert main.pk != other.pk


def test_a_bulk_dry_run_refuses_a_value_the_connection_does_not_offer(catalog, proto_env, dev, ops):
    network(proto_env, catalog, "main-net", dev)
    create(proto_env, catalog, "placed", "api", dev, params={"subnet": "main-net-a"})
    change = bulk.bulk_change_create(
        title="move",
        query="bundle:placed",
        patch=[{"op": "set", "path": "/subnet", "value": "elsewhere"}],
        actor=ops,
        dry_run=True,
    )
    change = drive_until_settled(change)
    assert change.status == BulkChange.Status.TESTED
    target = change.targets.get()
    assert target.verdict == "invalid"
    assert target.errors == {
        "/subnet": [
            "Subnet cannot be 'elsewhere': it is not one of main-net's choices (10.0.0.0/20, 10.0.16.0/20, "
            "10.0.32.0/20)."
        ]
    }


# --- lint ------------------------------------------------------------------------------------------


@pytest.fixture
def placed(tmp_path):
    path = tmp_path / "placed"
    shutil.copytree(FIXTURE_BUNDLES / "placed", path)
    return path


def lint_with(bundle, **spec) -> str:
    data = yaml.safe_load((bundle / "bundle.yaml").read_text())
    data["params"]["properties"]["subnet"]["x-options-from"] = spec
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(data))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("lint_bundle", str(bundle), stdout=io.StringIO(), stderr=err)
    return err.getvalue()


AT = "bundle.yaml /params/properties/subnet/x-options-from"


def test_lint_refuses_an_unknown_connection(placed):
    said = lint_with(placed, connection="net", path="specs.subnets", value="id")
    assert f"{AT}/connection: the bundle has no connection 'net'; its connections are network" in said


def test_lint_refuses_a_path_into_data(placed):
    said = lint_with(placed, connection="network", path="data.subnets", value="id")
    assert f"{AT}/path: 'data.subnets' reads data, which may hold sensitive values" in said


def test_lint_refuses_a_path_the_type_does_not_have_or_that_is_not_a_list(placed):
    said = lint_with(placed, connection="network", path="specs.zones")
    assert f"{AT}/path: the network type (1.1.0) has no specs field 'zones'" in said
    said = lint_with(placed, connection="network", path="specs.cidr_block")
    assert f"{AT}/path: specs.cidr_block of the network type is not a list, so it cannot offer choices" in said
    said = lint_with(placed, connection="network", path="subnets")
    assert f"{AT}/path: 'subnets' must start with specs. and name a field" in said


def test_lint_refuses_keys_the_items_do_not_have(placed):
    said = lint_with(placed, connection="network", path="specs.subnets")
    assert f"{AT}: the items of specs.subnets are objects; say which of their keys is stored (value: KEY)" in said
    said = lint_with(placed, connection="network", path="specs.subnets", value="id", label="title")
    assert f"{AT}/label: the items of specs.subnets have no key 'title'; they have cidr_block, id, zone" in said
    said = lint_with(placed, connection="network", path="specs.subnets", value="id", colour="red")
    assert f"{AT}: unknown key(s) colour; the keys are connection, path, value, label" in said


def test_a_restore_preview_says_when_the_restored_value_is_no_longer_offered(catalog, proto_env, dev):
    main = network(proto_env, catalog, "main-net", dev)
    network(proto_env, catalog, "other-net", dev, second=1)
    placed = create(proto_env, catalog, "placed", "api", dev, params={"subnet": "main-net-b"})
    first = placed.history.earliest().history_id
    services.deployment_update(
        deployment=placed, params={"subnet": "other-net-a"}, actor=dev, connections={"network": "other-net"}
    )
    assert restore_preview(deployment=placed, history_id=first)["problems"] == []
    # main-net stops publishing the subnet the earlier configuration used.
    artifact_store(
        deployment=main,
        declared=main.bundle_version.artifacts[0],
        payload={
            "specs": {"network_id": "main-net", "cidr_block": "10.0.0.0/16", "subnets": subnets("main-net", 0)[:1]},
            "data": {},
        },
    )
    problems = restore_preview(deployment=placed, history_id=first)["problems"]
    assert problems == [
        {
            "label": "Subnet",
            "messages": ["Subnet cannot be 'main-net-b': it is not one of main-net's choices (10.0.0.0/20)."],
        }
    ]
    with pytest.raises(ParamsInvalid):
        deployment_restore(deployment=placed, history_id=first, actor=dev)


def test_a_forks_copy_meets_the_choices_of_the_producers_it_is_wired_to_there(catalog, proto_env, project, dev):
    network(proto_env, catalog, "main-net", dev)
    create(proto_env, catalog, "placed", "api", dev, params={"subnet": "main-net-b"})
    fork = environment_fork(source=proto_env, project=project, slug="pr-1", name="PR 1", tier="prototype", actor=dev)
    copy_net = Deployment.objects.get(environment=fork.environment, name="main-net")
    copy_api = Deployment.objects.get(environment=fork.environment, name="api")
    live(copy_net, specs={"network_id": "pr-net", "cidr_block": "10.0.0.0/16", "subnets": subnets("pr-net", 0)})
    Deployment.objects.filter(pk=copy_net.pk).update(status="live")
    copy_api.refresh_from_db()
    assert copy_api.status == "draft" and copy_api.params == {"subnet": "main-net-b"}
    with pytest.raises(ParamsInvalid) as caught:
        services.deployment_reapply(deployment=copy_api, actor=dev)
    assert caught.value.errors == {
        "/subnet": [
            "Subnet cannot be 'main-net-b': it is not one of main-net's choices (10.0.0.0/20, 10.0.16.0/20, "
            "10.0.32.0/20)."
        ]
    }
