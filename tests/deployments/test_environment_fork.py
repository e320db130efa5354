"""Forking an environment: draft copies with their params and connections re-pointed, values marked
``x-copyable: false`` left to fill (or filled), the tier's policy, nothing run; every door and the audit event."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from deployments.choices import DeploymentStatus
from deployments.environments.compare import environment_diff
from deployments.environments.fork import environment_fork
from deployments.models import Deployment, Environment, Policy, Run
from portal.errors import ServiceError
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(catalog, proto_env, dev):
    live(create(proto_env, catalog, "datastore", "orders-db", dev, params={"size": "large", "password": "s3cret-pw"}))
    live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"}))
    live(create(proto_env, catalog, "relay", "edge", dev, connections={"upstream": "shop"}))
    return proto_env


def test_a_fork_copies_params_and_rewires_connections_to_the_copies(source, project, dev):
    runs = Run.objects.count()
    fork = environment_fork(source=source, project=project, slug="pr-1", name="PR 1", tier="staging", actor=dev)
    env = fork.environment
    assert (str(env), env.tier) == ("checkout/pr-1", "staging") and Policy.objects.filter(environment=env).exists()
    copies = {d.name: d for d in Deployment.objects.filter(environment=env)}
    assert set(copies) == {"orders-db", "shop", "edge"}
    assert {d.status for d in copies.values()} == {DeploymentStatus.DRAFT} and Run.objects.count() == runs
    assert copies["orders-db"].full_params() == {"size": "large"}  # the password is not copied
    assert copies["shop"].connections == {"database": str(copies["orders-db"].pk)}
    assert copies["edge"].connections == {"upstream": str(copies["shop"].pk)}
    assert fork.left == {"orders-db": ["/password"]} and fork.missing == {}
    event = AuditEvent.objects.get(event_type="environment.forked")
    assert event.data["source"] == "checkout/proto" and event.data["left_to_fill"] == {"orders-db": ["/password"]}
    assert copies["orders-db"].history.latest().history_change_reason == "forked from checkout/proto/orders-db"


def test_the_values_not_copied_can_be_given_and_nothing_else_differs(source, project, dev):
    fork = environment_fork(
        source=source,
        project=project,
        slug="pr-2",
        name="",
        tier="prototype",
        actor=dev,
        values={"orders-db": {"/password": "preview-pw-1"}},
    )
    copy = Deployment.objects.get(environment=fork.environment, name="orders-db")
    assert copy.full_params() == {"size": "large", "password": "preview-pw-1"} and fork.left == {}
    assert "preview-pw-1" not in str(copy.params)  # stored encrypted, masked in params
    diff = environment_diff(source, fork.environment)
    assert not diff.only_a and not diff.only_b
    assert [(p.name, [v.pointer for v in p.params], p.connections) for p in diff.differing] == [
        ("orders-db", ["/password"], [])
    ]


def test_a_fork_refuses_what_it_cannot_do(source, project, dev):
    with pytest.raises(ServiceError, match="only values left to fill can be given"):
        environment_fork(
            source=source, project=project, slug="x", name="", tier="prototype", actor=dev,
            values={"orders-db": {"/size": "small"}},
        )  # fmt: skip
    with pytest.raises(ServiceError, match="already has an environment 'proto'"):
        environment_fork(source=source, project=project, slug="proto", name="", tier="prototype", actor=dev)
    with pytest.raises(ServiceError, match="has no deployment 'nope'"):
        environment_fork(
            source=source, project=project, slug="y", name="", tier="prototype", actor=dev, values={"nope": {}}
        )
    assert Environment.objects.count() == 1


def test_the_fork_page_asks_for_the_values_not_copied(source, dev_client):
    url = reverse("deployments:env-fork", args=[source.pk])
    page = dev_client.get(url).content.decode()
    assert 'data-fork-field="orders-db/password"' in page and 'name="value/orders-db/password" type="password"' in page
    answer = dev_client.post(
        url, {"project": "checkout", "slug": "pr-3", "tier": "prototype", "value/orders-db/password": "typed-pw-1"}
    )
    env = Environment.objects.get(slug="pr-3")
    assert answer.status_code == 302 and answer["Location"] == reverse("deployments:canvas", args=[env.pk])
    assert Deployment.objects.get(environment=env, name="orders-db").full_params()["password"] == "typed-pw-1"
    refused = dev_client.post(url, {"project": "checkout", "slug": "pr-3", "tier": "prototype"})
    assert refused.status_code == 400 and "already has an environment" in refused.content.decode()


def test_the_api_forks_into_a_project_you_can_change(source, dev_client, other_env):
    answer = dev_client.post(
        f"/api/v1/environments/{source.pk}/fork/",
        {"project": "checkout", "slug": "pr-4", "tier": "prototype"},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["environment"] == "checkout/pr-4" and body["left_to_fill"] == {"orders-db": ["/password"]}
    assert sorted(body["deployments"]) == ["edge", "orders-db", "shop"]
    elsewhere = dev_client.post(
        f"/api/v1/environments/{source.pk}/fork/",
        {"project": other_env.project.slug, "slug": "mine-now"},
        content_type="application/json",
    )
    assert elsewhere.status_code == 400 and not Environment.objects.filter(slug="mine-now").exists()


def test_a_forks_copies_meet_the_new_environments_policy_when_deployed(source, project, dev):
    """A copy was never approved in the new environment: deploying it checks its values against that
    environment's policy (nothing is 'kept as approved'), so forking cannot carry values past a policy."""
    from deployments import services
    from deployments.policy import rules as policy

    fork = environment_fork(
        source=source,
        project=project,
        slug="pr-3",
        name="",
        tier="prototype",
        actor=dev,
        values={"orders-db": {"/password": "preview-pw-1"}},
    )
    rules = policy.policy_for(fork.environment)
    rules.overlays = {"datastore": {"properties": {"size": {"enum": ["small"]}}}}
    rules.full_clean()
    rules.save()
    copy = Deployment.objects.get(environment=fork.environment, name="orders-db")
    with pytest.raises(services.PolicyViolation) as refused:
        services.deployment_reapply(deployment=copy, actor=dev)
    assert "outside the policy of checkout/pr-3" in refused.value.message
    assert not Run.objects.filter(deployment=copy).exists()
