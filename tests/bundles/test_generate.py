"""``x-generate``: the rule a bundle gives for a value it marks ``x-copyable: false``; lint refuses a rule that
could never apply, in words; a fork (and a promotion that creates a deployment) fills such values by the rule,
a generated secret stored encrypted as every secret is and never in the audit trail."""

import io
import shutil
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from audit.models import AuditEvent
from bundles.loader import lint_inputs
from bundles.models import BundleVersion
from bundles.schema.generate import fits, generated_value
from deployments.environments.fork import environment_fork, fork_fields
from deployments.models import Deployment
from tests.deployments.test_connections import create, live

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"

BUCKET = {
    "type": "string",
    "maxLength": 20,
    "pattern": "^[a-z][a-z0-9-]*$",
    "x-copyable": False,
    "x-generate": {"kind": "suffix"},
}
PASSWORD = {
    "type": "string",
    "minLength": 16,
    "x-sensitive": True,
    "x-copyable": False,
    "x-generate": {"kind": "random", "length": 24},
}


def lint(**properties) -> list[str]:
    return lint_inputs({"type": "object", "properties": properties}, {}, [])[0]


def test_a_suffix_keeps_the_source_within_the_fields_rules():
    value = generated_value(BUCKET, "orders-assets-eu-west")
    assert fits(BUCKET, value) and len(value) == 20 and value.startswith("orders-assets-")
    assert value != generated_value(BUCKET, "orders-assets-eu-west")
    assert generated_value({**BUCKET, "x-generate": {"kind": "suffix", "separator": ""}}, "abc")[:3] == "abc"
    assert generated_value(BUCKET, None) is None  # nothing to put a suffix on


def test_a_random_value_has_the_length_and_characters_asked_for():
    value = generated_value(PASSWORD)
    assert len(value) == 24 and value.isalnum()
    hexed = generated_value(
        {"type": "string", "x-copyable": False, "x-generate": {"kind": "random", "characters": "hex"}}
    )
    assert len(hexed) == 32 and set(hexed) <= set("0123456789abcdef")
    assert generated_value({"type": "string"}) is None  # no rule, no value
    never = {**PASSWORD, "pattern": "^[!]+$"}
    assert generated_value(never) is None  # nothing made keeps the pattern: left for a person


def test_lint_accepts_the_documented_rules():
    assert lint(bucket=BUCKET, password=PASSWORD) == []


@pytest.mark.parametrize(
    ("field", "said"),
    [
        ({**PASSWORD, "x-generate": {"kind": "uuid"}}, "has an unknown kind 'uuid': use suffix (the source's value"),
        ({**PASSWORD, "x-generate": "random"}, "must be a mapping such as {kind: suffix}"),
        ({**PASSWORD, "x-generate": {}}, "has no kind: use suffix"),
        (
            {"type": "integer", "x-copyable": False, "x-generate": {"kind": "random"}},
            "applies to text fields only (type: string), and this field is integer",
        ),
        ({"x-copyable": False, "x-generate": {"kind": "random"}}, "this field is not declared as text"),
        ({**PASSWORD, "x-copyable": True}, "only applies to a value a copy does not take: add x-copyable: false"),
        ({**PASSWORD, "x-generate": {"kind": "random", "length": 4}}, "length must be a whole number from 8 to 256"),
        (
            {**PASSWORD, "x-generate": {"kind": "random", "length": 12}},
            "length 12 is shorter than the field's minLength",
        ),
        ({**PASSWORD, "x-generate": {"kind": "random", "separator": "-"}}, "random takes characters, length only"),
        ({**BUCKET, "maxLength": 6}, "maxLength 6 leaves no room for the source's value and a 6-character suffix"),
        ({**PASSWORD, "pattern": "^[!]+$"}, "the field's pattern or length rules refuse 24 random characters"),
        ({**BUCKET, "enum": ["a", "b"]}, "a generated value cannot be one of a fixed list"),
    ],
)
def test_lint_refuses_a_rule_that_cannot_apply_in_words(field, said):
    problems = lint(value=field)
    assert any(p.startswith("bundle.yaml /params/properties/value/x-generate: ") and said in p for p in problems), (
        problems
    )


@pytest.fixture
def keyring(catalog, tmp_path) -> BundleVersion:
    """The datastore fixture as another bundle whose password and bucket name have generation rules."""
    root = tmp_path / "keyring"
    shutil.copytree(FIXTURES / "datastore", root)
    manifest = yaml.safe_load((root / "bundle.yaml").read_text())
    manifest["name"] = "keyring"
    manifest["params"]["properties"]["password"] = {**PASSWORD, "minLength": 8}
    manifest["params"]["properties"]["bucket"] = BUCKET
    (root / "bundle.yaml").write_text(yaml.safe_dump(manifest))
    with (root / "src" / "main.tf").open("a") as tf:
        tf.write('\nvariable "bucket" {\n  type    = string\n  default = "assets"\n}\n')
    call_command("sync_bundles", str(root), stdout=io.StringIO())
    return BundleVersion.objects.get(bundle__name="keyring")


@pytest.mark.django_db
def test_a_fork_generates_the_values_its_bundle_gives_a_rule_for(keyring, proto_env, project, dev):
    live(
        create(
            proto_env,
            {"keyring": keyring},
            "keyring",
            "vault",
            dev,
            params={"password": "source-secret-1", "bucket": "orders-assets"},
        )
    )
    assert {f.pointer: f.generated for f in fork_fields(proto_env)} == {"/password": True, "/bucket": True}
    fork = environment_fork(source=proto_env, project=project, slug="pr-9", name="", tier="prototype", actor=dev)
    assert fork.generated == {"vault": ["/bucket", "/password"]} or fork.generated == {
        "vault": ["/password", "/bucket"]
    }
    assert fork.left == {} and fork.missing == {}
    copy = Deployment.objects.get(environment=fork.environment, name="vault")
    made = copy.full_params()
    assert made["bucket"].startswith("orders-assets-") and fits(BUCKET, made["bucket"])
    assert len(made["password"]) == 24 and made["password"] != "source-secret-1"
    assert made["password"] not in str(copy.params)  # stored encrypted, only its mask in params
    event = AuditEvent.objects.get(event_type="environment.forked")
    assert made["password"] not in str(event.data) and sorted(event.data["generated"]["vault"]) == [
        "/bucket",
        "/password",
    ]
    row = copy.history.latest()
    assert made["password"] not in str(row.params)


@pytest.mark.django_db
def test_a_value_given_wins_over_the_rule(keyring, proto_env, project, dev):
    live(create(proto_env, {"keyring": keyring}, "keyring", "vault", dev, params={"password": "source-secret-1"}))
    fork = environment_fork(
        source=proto_env,
        project=project,
        slug="pr-10",
        name="",
        tier="prototype",
        actor=dev,
        values={"vault": {"/password": "given-secret-1"}},
    )
    assert fork.generated == {} and fork.left == {}
    assert Deployment.objects.get(environment=fork.environment, name="vault").full_params() == {
        "password": "given-secret-1"
    }


@pytest.mark.django_db
def test_a_promotion_that_creates_a_deployment_generates_its_values_too(keyring, proto_env, prod_env, dev):
    from deployments.environments.promote import environment_promote, promote_plan

    live(create(proto_env, {"keyring": keyring}, "keyring", "vault", dev, params={"password": "source-secret-1"}))
    plan = promote_plan(source=proto_env, target=prod_env)
    assert plan.steps[0].creates and plan.steps[0].generated == ["/password"]
    assert plan.fingerprint == promote_plan(source=proto_env, target=prod_env).fingerprint  # not the random value
    done = environment_promote(source=proto_env, target=prod_env, actor=dev, expected_plan=plan.fingerprint)
    assert [o.outcome for o in done.outcomes] == ["created"]
    made = Deployment.objects.get(environment=prod_env, name="vault").full_params()["password"]
    assert len(made) == 24 and made != "source-secret-1"
    assert made not in str(AuditEvent.objects.get(event_type="environment.promoted").data)
