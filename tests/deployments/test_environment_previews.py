"""Preview environments: ensure is idempotent (one preview, its time to live extended, re-pointed to the source),
teardown, the owner warned once before expiry and the preview torn down at expiry (a controlled clock), who may
ensure one, and hostile input answered with clear 400s."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from deployments.choices import DeploymentStatus
from deployments.environments.models import EnvironmentRun
from deployments.environments.previews import preview_ensure, preview_teardown, previews_expire
from deployments.environments.selectors import previews_visible_to
from deployments.models import Deployment, Environment, Run
from portal.errors import ParamsInvalid, ServiceError
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db

ENSURE = "/api/v1/previews/ensure/"


@pytest.fixture
def source(catalog, proto_env, dev):
    live(create(proto_env, catalog, "datastore", "orders-db", dev, params={"size": "large", "password": "s3cret-pw"}))
    live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "orders-db"}))
    return proto_env


def ensure(source, project, dev, **kwargs):
    kwargs.setdefault("repository", "acme/checkout")
    kwargs.setdefault("pull_request", "123")
    return preview_ensure(source=source, project=project, actor=dev, **kwargs)


def settle(preview):
    """As after its deploy finished: every deployment live, no environment run under way."""
    Deployment.objects.filter(environment=preview).update(status=DeploymentStatus.LIVE)
    EnvironmentRun.objects.filter(environment=preview).update(status=EnvironmentRun.Status.SUCCEEDED)


def test_ensure_twice_makes_one_preview_and_extends_its_time_to_live(source, project, dev):
    t0 = timezone.now()
    first = ensure(source, project, dev, ttl_hours=24, now=t0, values={"orders-db": {"/password": "preview-pw"}})
    preview = first.environment
    assert first.created and (str(preview), preview.is_preview, preview.preview_owner) == ("checkout/pr-123", True, dev)
    assert preview.preview_source == source and preview.preview_expires_at == t0 + timedelta(hours=24)
    assert first.env_run.action == "deploy" and first.env_run.environment == preview

    settle(preview)
    second = ensure(source, project, dev, ttl_hours=24, now=t0 + timedelta(hours=5))
    assert not second.created and second.environment.pk == preview.pk
    assert Environment.objects.filter(is_preview=True).count() == 1
    preview.refresh_from_db()
    assert preview.preview_expires_at == t0 + timedelta(hours=29)
    assert second.env_run.pk != first.env_run.pk and second.repointed == []  # nothing changed in the source
    copy = Deployment.objects.get(environment=preview, name="orders-db")
    assert copy.full_params() == {"size": "large", "password": "preview-pw"}  # the preview's own value is kept
    events = AuditEvent.objects.filter(event_type="environment.preview_ensured").order_by("pk")
    assert [e.data["created"] for e in events] == [True, False]


def test_a_later_ensure_repoints_the_preview_to_the_sources_current_configuration(source, project, dev, catalog):
    first = ensure(source, project, dev, values={"orders-db": {"/password": "preview-pw"}})
    settle(first.environment)
    Deployment.objects.filter(environment=source, name="orders-db").update(params={"size": "small", "password": "x"})
    live(create(source, catalog, "relay", "edge", dev, connections={"upstream": "shop"}))
    second = ensure(source, project, dev)
    assert (second.repointed, second.added) == (["orders-db"], ["edge"])
    copies = {d.name: d for d in Deployment.objects.filter(environment=first.environment)}
    assert copies["orders-db"].full_params() == {"size": "small", "password": "preview-pw"}
    assert copies["edge"].status == DeploymentStatus.DRAFT
    assert copies["edge"].connections == {"upstream": str(copies["shop"].pk)}
    assert copies["orders-db"].history.latest().history_change_reason == (
        "re-pointed to checkout/proto/orders-db for the preview"
    )


def test_the_api_ensure_is_idempotent_and_answers_201_then_200(source, dev_client):
    body = {"source": "checkout/proto", "repository": "acme/checkout", "pull_request": "77", "ttl_hours": 12}
    first = dev_client.post(ENSURE, body, content_type="application/json")
    assert first.status_code == 201, first.content
    answer = first.json()
    assert answer["created"] and answer["preview"]["environment"] == "checkout/pr-77"
    assert answer["preview"]["owner"] == "dev" and answer["preview"]["source"] == "checkout/proto"
    assert answer["environment_run"]["action"] == "deploy" and answer["left_to_fill"] == {"orders-db": ["/password"]}
    again = dev_client.post(
        ENSURE, {**body, "source": str(Environment.objects.get(slug="proto").pk)}, "application/json"
    )
    assert again.status_code == 200, again.content
    assert not again.json()["created"] and Environment.objects.filter(is_preview=True).count() == 1
    listed = dev_client.get("/api/v1/previews/").json()
    assert [(p["environment"], p["pull_request"], p["owner"]) for p in listed] == [("checkout/pr-77", "77", "dev")]


def test_teardown_destroys_the_preview_and_is_recorded(source, project, dev, dev_client):
    preview = ensure(source, project, dev).environment
    settle(preview)
    body = {"source": "checkout/proto", "repository": "acme/checkout", "pull_request": "123", "reason": "closed"}
    answer = dev_client.post("/api/v1/previews/teardown/", body, content_type="application/json")
    assert answer.status_code == 202, answer.content
    env_run = answer.json()["environment_run"]
    assert env_run["action"] == "teardown" and env_run["environment"] == "checkout/pr-123"
    preview.refresh_from_db()
    assert preview.preview_torn_down_at is not None
    event = AuditEvent.objects.get(event_type="environment.preview_torn_down")
    assert event.data["pull_request"] == "123" and event.data["reason"] == "closed"
    again = dev_client.post("/api/v1/previews/teardown/", body, content_type="application/json")
    assert again.status_code == 202 and again.json()["environment_run"]["id"] == env_run["id"]  # the same teardown
    missing = dev_client.post("/api/v1/previews/teardown/", {**body, "pull_request": "9"}, "application/json")
    assert (
        missing.status_code == 404 and "No preview of checkout/proto for acme/checkout#9" in missing.json()["message"]
    )


def test_the_owner_is_warned_once_then_the_preview_is_torn_down_at_expiry(
    source, project, dev, settings, django_capture_on_commit_callbacks
):
    settings.SLIPWAY_PREVIEW_WARN_HOURS = 6
    t0 = timezone.now()
    preview = ensure(source, project, dev, ttl_hours=24, now=t0).environment
    settle(preview)
    with django_capture_on_commit_callbacks(execute=True):
        assert previews_expire(now=t0 + timedelta(hours=17)) == (0, 0)  # 7 hours left: too early to warn
        assert previews_expire(now=t0 + timedelta(hours=19)) == (1, 0)
        assert previews_expire(now=t0 + timedelta(hours=20)) == (0, 0)  # once
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [dev.email]
    assert "checkout/pr-123" in mail.outbox[0].subject and "ensure it again" in mail.outbox[0].body
    assert AuditEvent.objects.filter(event_type="environment.preview_expiring").count() == 1

    assert previews_expire(now=t0 + timedelta(hours=24, minutes=1)) == (0, 1)
    env_run = EnvironmentRun.objects.filter(environment=preview).latest("pk")
    assert env_run.action == "teardown" and env_run.requested_by is None and env_run.channel == "system"
    assert AuditEvent.objects.filter(event_type="environment.preview_expired").count() == 1
    assert previews_expire(now=t0 + timedelta(hours=25)) == (0, 0)  # torn down: not again

    settle(preview)  # a new push: ensured again, so warned again before its new end
    ensure(source, project, dev, ttl_hours=24, now=t0 + timedelta(hours=30))
    preview.refresh_from_db()
    assert preview.preview_torn_down_at is None and preview.preview_warned_at is None


def test_an_expired_preview_busy_with_a_teardown_is_left_for_the_next_look(source, project, dev):
    t0 = timezone.now()
    preview = ensure(source, project, dev, ttl_hours=1, now=t0).environment
    settle(preview)
    first = preview_teardown(preview=preview, actor=dev)
    Environment.objects.filter(pk=preview.pk).update(preview_torn_down_at=None)
    assert previews_expire(now=t0 + timedelta(hours=2)) == (0, 1)
    assert EnvironmentRun.objects.filter(environment=preview, action="teardown").get().pk == first.pk


def test_someone_who_cannot_change_the_source_cannot_ensure_a_preview_of_it(source, client, outsider, auditor):
    body = {"source": "checkout/proto", "pull_request": "5"}
    client.force_login(outsider)
    answer = client.post(ENSURE, body, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["errors"] == {
        "/source": ["No environment 'checkout/proto' that you can see (write project/environment)."]
    }
    client.force_login(auditor)
    assert client.post(ENSURE, body, content_type="application/json").status_code == 403
    assert not Environment.objects.filter(is_preview=True).exists()


def test_an_owner_must_be_able_to_change_the_preview(source, dev_client, outsider):
    body = {"source": "checkout/proto", "pull_request": "5", "owner": outsider.username}
    answer = dev_client.post(ENSURE, body, content_type="application/json")
    assert answer.status_code == 400 and list(answer.json()["errors"]) == ["/owner"]


@pytest.mark.parametrize(
    ("change", "pointer", "said"),
    [
        ({"pull_request": "12\n3"}, "/pull_request", "one line of printable text"),
        ({"pull_request": "12\u202e3"}, "/pull_request", "one line of printable text"),
        ({"pull_request": "   "}, "/pull_request", "Say which pull request"),
        ({"pull_request": "1" * 101}, "/pull_request", "at most 100 characters"),
        ({"pull_request": 123}, "/pull_request", "Must be a string"),
        ({"repository": "acme/\x00x"}, "/repository", "NUL character"),
        ({"repository": "acme/\tx"}, "/repository", "printable"),
        ({"ttl_hours": -5}, "/ttl_hours", "The time to live is 1 to 720 hours (it was -5)."),
        ({"ttl_hours": 0}, "/ttl_hours", "1 to 720 hours"),
        ({"ttl_hours": 100000}, "/ttl_hours", "1 to 720 hours"),
        ({"ttl_hours": "5"}, "/ttl_hours", "whole number"),
        ({"source": "nope/nope"}, "/source", "No environment 'nope/nope' that you can see"),
        ({"source": "999999"}, "/source", "No environment '999999'"),
        ({"source": "checkout"}, "/source", "write project/environment"),
        ({"source": "9" * 30}, "/source", "that you can see"),
        ({"source": "\u00b2"}, "/source", "that you can see"),
        ({"values": {"nope": {"/x": 1}}}, "/values", "has no deployment 'nope'"),
        ({"values": {"orders-db": {"/size": "small"}}}, "/values", "only values left to fill can be given"),
        ({"slug": "Bad Slug!"}, "/slug", "slug"),
    ],
)
def test_hostile_input_is_answered_with_a_clear_400(source, dev_client, change, pointer, said):
    body = {"source": "checkout/proto", "repository": "acme/checkout", "pull_request": "5", **change}
    answer = dev_client.post(ENSURE, body, content_type="application/json")
    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert list(errors) == [pointer] and said in " ".join(errors[pointer]), errors
    assert not Environment.objects.filter(is_preview=True).exists()


def test_a_preview_cannot_be_the_source_of_a_preview_nor_be_made_of_an_empty_environment(
    source, project, dev, prod_env
):
    preview = ensure(source, project, dev).environment
    with pytest.raises(ServiceError, match="is itself a preview"):
        ensure(preview, project, dev)
    with pytest.raises(ServiceError, match="has no deployment to copy"):
        ensure(prod_env, project, dev)


def test_the_overview_lists_previews_with_age_owner_source_and_cost(source, project, dev, dev_client, catalog):
    create(source, catalog, "queue", "jobs", dev, params={"type": "fifo", "retention_days": 4})  # $0.2 + $1 + 4 x $0.2
    preview = ensure(source, project, dev).environment
    rows = previews_visible_to(dev)
    assert [r.environment.pk for r in rows] == [preview.pk] and rows[0].deployments == 3
    assert rows[0].cost_text == "$2/month"
    page = dev_client.get("/").content.decode()
    assert 'data-preview="checkout/pr-123"' in page
    assert "acme/checkout#123" in page and "checkout/proto" in page and rows[0].cost_text in page
    envs = dev_client.get("/api/v1/environments/?is_preview=true").json()["results"]
    assert [(e["slug"], e["is_preview"], e["preview"]["owner"]) for e in envs] == [("pr-123", True, "dev")]
    assert envs[0]["preview"]["monthly_cost_text"] == rows[0].cost_text
    assert dev_client.get("/api/v1/environments/?is_preview=false").json()["results"][0]["preview"] is None
    canvas = dev_client.get(f"/deployments/environments/{preview.pk}/canvas/").content.decode()
    assert "data-preview-notice" in canvas and "acme/checkout#123, owned by dev" in canvas


def test_a_source_value_outside_the_previews_policy_refuses_the_ensure_and_changes_nothing(source, project, dev):
    """The source's values were approved for the source: re-pointed into the preview they meet the preview's
    policy (a live copy would otherwise pass as "kept as approved" when the deploy re-applies it)."""
    from deployments.policy import rules as policy

    preview = ensure(source, project, dev).environment
    settle(preview)
    rules = policy.policy_for(preview)
    rules.overlays = {"datastore": {"properties": {"size": {"enum": ["large"]}}}}
    rules.full_clean()
    rules.save()
    Deployment.objects.filter(environment=source, name="orders-db").update(params={"size": "small"})
    runs = EnvironmentRun.objects.count()
    with pytest.raises(ParamsInvalid) as refused:
        ensure(source, project, dev)
    assert list(refused.value.errors) == ["/deployments/orders-db/size"]
    assert "checkout/proto's orders-db cannot go into the preview" in refused.value.message
    assert Deployment.objects.get(environment=preview, name="orders-db").full_params()["size"] == "large"
    assert EnvironmentRun.objects.count() == runs


def test_a_preview_in_a_project_you_cannot_change_is_not_updated_by_you(source, ops, other_env, dev_client):
    made = preview_ensure(
        source=source, project=other_env.project, repository="acme/checkout", pull_request="8", actor=ops
    ).environment
    body = {"source": "checkout/proto", "repository": "acme/checkout", "pull_request": "8"}
    answer = dev_client.post(ENSURE, body, content_type="application/json")
    assert answer.status_code == 403 and "search-api/pr-8 is in a project you cannot change" in answer.json()["message"]
    assert EnvironmentRun.objects.filter(environment=made).count() == 1


def test_a_teardown_during_the_first_deploy_leaves_the_rest_to_the_scheduler(source, project, dev):
    """Closed right after it was opened: the deploy stops after its level, but its runs already started go on
    and would create what no teardown covers; the preview expires now and the next look tears that down."""
    t0 = timezone.now()
    ensured = ensure(source, project, dev, now=t0)
    preview = ensured.environment
    started = Run.objects.filter(deployment__environment=preview)
    assert [r.deployment.name for r in started] == ["orders-db"]  # level 1 queued, the copies still drafts
    assert preview_teardown(preview=preview, actor=dev, now=t0) is None  # nothing live to destroy yet
    ensured.env_run.refresh_from_db()
    preview.refresh_from_db()
    assert ensured.env_run.status == "cancelled"
    assert preview.preview_torn_down_at is None and preview.preview_expires_at == t0
    assert AuditEvent.objects.get(event_type="environment.preview_torn_down").data["still_running"] == ["orders-db"]

    run = started.get()
    run.transition("running")
    run.transition("succeeded")
    Deployment.objects.filter(pk=run.deployment_id).update(status=DeploymentStatus.LIVE)
    assert previews_expire(now=t0 + timedelta(minutes=5)) == (0, 1)
    teardown = EnvironmentRun.objects.filter(environment=preview, action="teardown").get()
    assert [s.deployment.name for s in teardown.steps.all()] == ["orders-db"]
    preview.refresh_from_db()
    assert preview.preview_torn_down_at is not None
