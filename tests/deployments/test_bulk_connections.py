"""A bulk change keeps each target's connections: the dry run checks they still hold, the rollout leaves them."""

import pytest

from deployments.choices import DeploymentStatus
from deployments.estate import bulk
from deployments.models import BulkChange, BulkTarget, Deployment
from tests.deployments.test_bulk import drive_until_settled
from tests.deployments.test_connections import create, live

pytestmark = pytest.mark.django_db


def test_a_bulk_change_keeps_connections_and_its_dry_run_says_which_no_longer_hold(catalog, proto_env, dev, ops):
    first = live(create(proto_env, catalog, "datastore", "first-db", dev))
    second = live(create(proto_env, catalog, "datastore", "second-db", dev))
    shop = live(create(proto_env, catalog, "webapp", "shop", dev, connections={"database": "first-db"}))
    admin = live(create(proto_env, catalog, "webapp", "admin", dev, connections={"database": "second-db"}))
    # second-db went away behind the service's back (its destroy is refused while admin is connected).
    Deployment.objects.filter(pk=second.pk).update(status=DeploymentStatus.DESTROYED)

    change = bulk.bulk_change_create(
        title="three replicas",
        query="bundle:webapp",
        patch=[{"op": "set", "path": "/replicas", "value": 3}],
        actor=ops,
        dry_run=True,
    )
    change = drive_until_settled(change)
    assert change.status == BulkChange.Status.TESTED
    verdicts = {t.deployment.name: (t.verdict, t.errors) for t in change.targets.select_related("deployment")}
    assert verdicts["shop"] == ("clean", {})
    assert verdicts["admin"] == (
        "invalid",
        {"/connections/database": ["Database cannot be second-db: second-db is destroyed."]},
    )

    bulk.bulk_rollout_start(bulk=change, actor=ops)
    change = drive_until_settled(change)
    target = change.targets.get(deployment=shop)
    assert target.rollout == BulkTarget.Rollout.RUNNING and target.run is not None
    shop.refresh_from_db()
    assert shop.params["replicas"] == 3
    assert shop.connections == {"database": str(first.pk)}
    assert shop.history.latest().connections == {"database": str(first.pk)}
    admin.refresh_from_db()
    assert admin.params.get("replicas", 1) == 1 and admin.connections == {"database": str(second.pk)}
