"""Bulk changes: test a change against every deployment a query selects, then roll it out in waves.

A change sets or unsets param paths (:mod:`.patch`, applied with jsonpatch to each target's real
params), moves the targets to another version of their bundle, or both. The **dry run** validates
every target against its effective schema (:mod:`.validation`: each validator compiled once per
bundle version and policy overlay) and, optionally, plans each valid one in the Celery workers;
it sorts the targets into clean, invalid (with the error) and "would replace or destroy" (with the
resources). The **rollout** applies the clean ones in waves through ``deployment_update`` with
channel ``bulk``, so the policy path and the audit trail are the same as for a change made by hand.
The database drives both, step by step (:mod:`.rollout`). Only platform ops run bulk changes.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from bundles.models import BundleVersion
from portal.actor import actor_fields, actor_name
from portal.errors import ServiceError
from portal.events import record_event
from portal.roles import is_ops, require_ops

from ..choices import DeploymentStatus
from ..models import BulkChange, BulkTarget, Deployment
from .patch import apply_patch, clean_patch, describe_change
from .query import QueryError, estate_query
from .rollout import CHANNEL, start_driver

__all__ = ["apply_patch", "clean_patch", "describe_change"]


@transaction.atomic
@transaction.atomic
def bulk_change_create(
    *,
    title: str,
    query: str,
    patch: list | None = None,
    target_version: BundleVersion | None = None,
    plan: bool = False,
    actor,
    dry_run: bool = False,
) -> BulkChange:
    """Record a bulk change; with ``dry_run``, start testing it at once (nothing changes until a rollout).
    Only ops may."""
    require_ops(actor, "Only platform ops can run bulk changes.")
    try:
        estate_query(query)
    except QueryError as exc:
        raise ServiceError(f"The query is not valid: {exc}", field="query") from exc
    if not query.strip():
        raise ServiceError("Select the targets with a query, e.g. bundle:postgres env.tier:production.", field="query")
    patch = clean_patch(patch or [])
    if not patch and target_version is None:
        raise ServiceError("Say what to change: set or unset a param, or choose a bundle version.", field="patch")
    bulk = BulkChange.objects.create(
        title=title.strip() or (f"Upgrade to {target_version}" if target_version else "Bulk change"),
        query=query,
        patch=patch,
        target_version=target_version,
        plan=plan,
        **actor_fields(actor, "created_by"),
    )
    return bulk_dry_run_start(bulk=bulk, actor=actor) if dry_run else bulk


def upgrade_query(version: BundleVersion) -> str:
    """The query that selects every deployment of ``version``'s bundle on an older version."""
    return f"bundle:{version.bundle.name} version<{version.version}"


def upgrade_candidates(version: BundleVersion):
    query = estate_query(upgrade_query(version))
    return query.filter(
        Deployment.objects.exclude(status__in=[DeploymentStatus.DESTROYED, DeploymentStatus.DESTROYING])
    )


def upgrade_offer(request, version: BundleVersion | None) -> dict:
    """For a bundle's page, to ops: how many deployments run an older version (the bulk upgrade offer)."""
    if version is None or not is_ops(request.user):
        return {}
    count = upgrade_candidates(version).count()
    return {"upgrade_offer": {"version": version, "count": count}} if count else {}


def bulk_upgrade_create(*, version: BundleVersion, plan: bool = True, actor, dry_run: bool = False) -> BulkChange:
    """The offer made when a version is published: dry-run the upgrade of the deployments on older versions."""
    return bulk_change_create(
        title=f"Upgrade {version.bundle.name} to {version.version}",
        query=upgrade_query(version),
        target_version=version,
        plan=plan,
        actor=actor,
        dry_run=dry_run,
    )


def _select_targets(bulk: BulkChange) -> int:
    qs = estate_query(bulk.query).filter(
        Deployment.objects.exclude(status__in=[DeploymentStatus.DESTROYED, DeploymentStatus.DESTROYING])
    )
    if bulk.target_version_id:
        qs = qs.filter(bundle_version__bundle_id=bulk.target_version.bundle_id)
        if not bulk.patch:
            qs = qs.exclude(bundle_version=bulk.target_version)
    rows = qs.order_by("environment__tier", "environment__project__slug", "name").values_list(
        "pk", "bundle_version_id", "version"
    )
    BulkTarget.objects.bulk_create(
        [
            BulkTarget(bulk_change=bulk, deployment_id=pk, from_version_id=version_id, deployment_version=version)
            for pk, version_id, version in rows
        ],
        batch_size=1000,
    )
    return len(rows)


@transaction.atomic
def bulk_dry_run_start(*, bulk: BulkChange, actor, plan: bool | None = None) -> BulkChange:
    """Select the targets and start the dry run (a draft or a tested change may be tried again)."""
    require_ops(actor, "Only platform ops can run bulk changes.")
    bulk = BulkChange.objects.select_for_update().get(pk=bulk.pk)
    if bulk.status not in (BulkChange.Status.DRAFT, BulkChange.Status.TESTED):
        raise ServiceError(f"Bulk change #{bulk.pk} is {bulk.get_status_display().lower()}; it cannot be dry-run now.")
    bulk.targets.all().delete()
    if plan is not None:
        bulk.plan = plan
    count = _select_targets(bulk)
    if count == 0:
        raise ServiceError("The query selects no deployment that this change applies to.", field="query")
    bulk.status = BulkChange.Status.DRY_RUNNING
    bulk.message = f"Validating {count} deployment{'' if count == 1 else 's'}."
    bulk.save()
    start_driver(bulk)
    return bulk


@transaction.atomic
def bulk_rollout_start(
    *,
    bulk: BulkChange,
    actor,
    wave_size: int = 5,
    pause_seconds: int = 0,
    failure_threshold: int = 1,
    include_risky: bool = False,
) -> BulkChange:
    """Roll the tested change out to the clean targets (and the risky ones if asked), in waves."""
    require_ops(actor, "Only platform ops can run bulk changes.")
    bulk = BulkChange.objects.select_for_update().get(pk=bulk.pk)
    if bulk.status != BulkChange.Status.TESTED:
        raise ServiceError("Run the dry run first: only a tested change rolls out.")
    if wave_size < 1 or failure_threshold < 1:
        raise ServiceError("The wave size and the failure threshold must be at least 1.")
    eligible = [BulkTarget.Verdict.CLEAN] + ([BulkTarget.Verdict.RISKY] if include_risky else [])
    if not bulk.targets.filter(verdict__in=eligible).exists():
        raise ServiceError("No target can roll out: every one is invalid or would replace or destroy.")
    bulk.targets.exclude(verdict__in=eligible).update(rollout=BulkTarget.Rollout.SKIPPED)
    bulk.targets.filter(verdict__in=eligible).update(rollout=BulkTarget.Rollout.WAITING)
    bulk.wave_size, bulk.pause_seconds = wave_size, pause_seconds
    bulk.failure_threshold, bulk.include_risky = failure_threshold, include_risky
    bulk.status = BulkChange.Status.ROLLING_OUT
    bulk.started_at = timezone.now()
    bulk.waves_started = 0
    bulk.next_wave_at = None
    bulk.message = "Starting the first wave."
    bulk.save()
    record_event(
        event_type="bulk.started",
        actor=actor,
        target=bulk,
        channel=CHANNEL,
        data={
            "bulk_change": bulk.pk,
            "title": bulk.title,
            "query": bulk.query,
            "change": describe_change(bulk),
            "targets": bulk.targets.filter(verdict__in=eligible).count(),
            "wave_size": wave_size,
            "failure_threshold": failure_threshold,
        },
    )
    start_driver(bulk)
    return bulk


@transaction.atomic
def bulk_cancel(*, bulk: BulkChange, actor) -> BulkChange:
    """Stop a dry run or a rollout: no new wave starts; runs already queued finish on their own."""
    require_ops(actor, "Only platform ops can run bulk changes.")
    bulk = BulkChange.objects.select_for_update().get(pk=bulk.pk)
    if bulk.status in BulkChange.FINISHED:
        raise ServiceError(f"Bulk change #{bulk.pk} is already {bulk.get_status_display().lower()}.")
    bulk.status = BulkChange.Status.CANCELLED
    bulk.finished_at = timezone.now()
    bulk.message = f"Cancelled by {actor_name(actor)}."
    bulk.driver_token = ""
    bulk.save()
    bulk.targets.filter(rollout=BulkTarget.Rollout.WAITING).update(rollout=BulkTarget.Rollout.SKIPPED)
    record_event(event_type="bulk.cancelled", actor=actor, target=bulk, channel=CHANNEL, data={"bulk_change": bulk.pk})
    return bulk
