"""Preview environments: a fork of an environment for one pull request, made and kept up to date by CI.

``preview_ensure`` is idempotent: the first call for a source environment, a repository and a pull request
forks the source (``fork.environment_fork``) into a new environment marked preview; each later call finds the
same preview, re-points its deployments to the source's current configuration (the values the bundle marks
``x-copyable: false`` stay the preview's own), and extends its time to live. Both deploy it level by level
(``services.environment_run_start``). ``preview_teardown`` destroys it (consumers first); the environment and
its records stay, so a reopened pull request deploys it again. ``previews_expire`` (beat) tells each owner
``SLIPWAY_PREVIEW_WARN_HOURS`` before the end, once, and tears down what has expired.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from jsonpointer import JsonPointer

from bundles.schema import uncopyable_values
from bundles.schema.fast import param_errors_quickly
from portal.actor import actor_name, actor_user
from portal.errors import Conflict, ParamsInvalid, ServiceError
from portal.events import record_event
from portal.history import record_change

from .. import notifications, secrets
from ..choices import RUN_ACTIVE, DeploymentStatus, Tier
from ..models import Deployment, Environment, Project, Run
from ..policy.rules import params_approve
from ..services import immutable_errors, params_validate
from .fork import _remove, _set, environment_fork, sources
from .models import EnvironmentRun
from .services import environment_run_cancel, environment_run_start

log = logging.getLogger(__name__)

_MISSING = object()
Action = EnvironmentRun.Action


@dataclass
class PreviewEnsured:
    """What an ensure did: the preview, whether it was made now, its environment run (deploy), and which
    deployments were re-pointed to the source's configuration or added since the last ensure."""

    environment: Environment
    created: bool
    env_run: EnvironmentRun | None
    repointed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    left: dict[str, list[str]] = field(default_factory=dict)


def clean_text(value: object, *, what: str, field_name: str, limit: int, required: bool) -> str:
    """A free-text source field (repository, pull request): printable, one line, at most ``limit`` characters."""
    if not isinstance(value, str):
        raise ServiceError(f"The {what} must be text.", field=field_name)
    text = value.strip()
    if required and not text:
        raise ServiceError(f"Say which {what} the preview is for, e.g. 123.", field=field_name)
    if len(text) > limit:
        raise ServiceError(f"The {what} is at most {limit} characters.", field=field_name)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in text):
        raise ServiceError(f"The {what} must be one line of printable text.", field=field_name)
    return text


def source_key(repository: object, pull_request: object) -> tuple[str, str]:
    """The repository (optional) and the pull request, checked: what names a preview beside its source."""
    return (
        clean_text(repository, what="repository", field_name="repository", limit=200, required=False),
        clean_text(pull_request, what="pull request", field_name="pull_request", limit=100, required=True),
    )


def ttl_of(hours: object) -> timedelta:
    """The time to live asked for: whole hours, 1 to ``SLIPWAY_PREVIEW_MAX_TTL_HOURS``; None for the default."""
    if hours is None:
        hours = settings.SLIPWAY_PREVIEW_TTL_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int):
        raise ServiceError("The time to live is a whole number of hours.", field="ttl_hours")
    limit = settings.SLIPWAY_PREVIEW_MAX_TTL_HOURS
    if not 1 <= hours <= limit:
        raise ServiceError(f"The time to live is 1 to {limit} hours (it was {hours}).", field="ttl_hours")
    return timedelta(hours=hours)


def label(environment: Environment) -> str:
    """``acme/checkout#123`` (or ``#123`` without a repository)."""
    return f"{environment.preview_repository}#{environment.preview_pull_request}"


def preview_for(*, source: Environment, repository: str, pull_request: str) -> Environment | None:
    return Environment.objects.filter(
        is_preview=True, preview_source=source, preview_repository=repository, preview_pull_request=pull_request
    ).first()


def free_slug(project: Project, repository: str, pull_request: str) -> str:
    """``pr-123``; ``pr-123-<hash of the repository>`` when ``pr-123`` is taken (another repository's PR 123)."""
    base = slugify(pull_request.removeprefix("#"))[:40].strip("-_")
    base = base or hashlib.sha256(pull_request.encode()).hexdigest()[:8]
    slug = f"pr-{base}"
    if not Environment.objects.filter(project=project, slug=slug).exists():
        return slug
    digest = hashlib.sha256(f"{repository}#{pull_request}".encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


@transaction.atomic
def preview_ensure(
    *,
    source: Environment,
    project: Project,
    repository: object,
    pull_request: object,
    actor,
    channel: str = "ui",
    ttl_hours: object = None,
    owner=None,
    slug: str = "",
    values: dict[str, dict[str, object]] | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> PreviewEnsured:
    """Make sure a preview of ``source`` for ``repository``#``pull_request`` exists, is up to date and is being
    deployed; its time to live starts again. Idempotent: the same call twice gives one preview.

    ``owner`` (default: the actor) is told before it expires. ``values`` fills the values that are not copied
    (``{deployment name: {JSON pointer: value}}``); on a later call they replace the preview's. Refused as a
    whole (nothing made, nothing changed) when a deployment would still miss a value or leave the policy.
    """
    repository, pull_request = source_key(repository, pull_request)
    ttl = ttl_of(ttl_hours)
    values = values or {}
    now = now or timezone.now()
    if source.is_preview:
        raise ServiceError(f"{source} is itself a preview; make previews of the environment it copies.", field="source")
    Environment.objects.select_for_update().filter(pk=source.pk).first()  # two CI jobs for one PR: one at a time
    if not sources(source):
        raise ServiceError(f"{source} has no deployment to copy into a preview.", field="source")
    preview = preview_for(source=source, repository=repository, pull_request=pull_request)
    text = f"{repository}#{pull_request}"
    if preview is None:
        fork = environment_fork(
            source=source,
            project=project,
            slug=slug or free_slug(project, repository, pull_request),
            name=f"Preview {text}"[:120],
            tier=Tier.PROTOTYPE,
            actor=actor,
            channel=channel,
            reason=reason or f"preview of {source} for {text}",
            values=values,
        )
        if fork.missing:
            raise ParamsInvalid(
                {f"/values/{name}{at}": said for name, errors in fork.missing.items() for at, said in errors.items()},
                message="The preview cannot deploy: give these values (values: {deployment: {pointer: value}}).",
            )
        preview = fork.environment
        result = PreviewEnsured(preview, created=True, env_run=None, left=fork.left)
        preview.preview_owner = actor_user(owner) or actor_user(actor)
    else:
        preview = Environment.objects.select_for_update().get(pk=preview.pk)
        result = PreviewEnsured(preview, created=False, env_run=None)
        _repoint(preview, source, values=values, actor=actor, channel=channel, result=result)
        if owner is not None:
            preview.preview_owner = actor_user(owner)
    preview.is_preview = True
    preview.preview_source = source
    preview.preview_repository = repository
    preview.preview_pull_request = pull_request
    preview.preview_expires_at = now + ttl
    preview.preview_warned_at = None
    preview.preview_torn_down_at = None
    record_change(preview, channel=channel, actor=actor, note=reason or f"preview ensured for {text}")
    preview.save()
    result.env_run = _deploy(preview, actor=actor, channel=channel, reason=reason or f"preview for {text}")
    record_event(
        event_type="environment.preview_ensured",
        actor=actor,
        target=preview,
        channel=channel,
        data={
            "created": result.created,
            "source": str(source),
            "source_id": source.pk,
            "repository": repository,
            "pull_request": pull_request,
            "owner": actor_name(preview.preview_owner),
            "expires_at": preview.preview_expires_at.isoformat(),
            "repointed": result.repointed,
            "added": result.added,
            "environment_run": result.env_run.pk if result.env_run else None,
            "reason": reason,
        },
    )
    return result


def _deploy(preview: Environment, *, actor, channel: str, reason: str) -> EnvironmentRun:
    active = EnvironmentRun.objects.filter(environment=preview, status__in=EnvironmentRun.ACTIVE).first()
    if active is not None and active.action == Action.DEPLOY:
        # A push right after another: the deploy under way goes on (its deployments were fixed when it started);
        # what this ensure changed besides is applied by the next ensure or "Deploy all".
        return active
    if active is not None:
        raise Conflict(f"{preview} is being {'torn down' if active.action == Action.TEARDOWN else 'planned'} "
                       f"(#{active.pk}); ensure it again when that has finished.")  # fmt: skip
    return environment_run_start(environment=preview, action=Action.DEPLOY, actor=actor, channel=channel, reason=reason)


def _repoint(preview: Environment, source: Environment, *, values: dict, actor, channel: str, result) -> None:
    """Bring the preview's deployments to the source's current bundle versions, params and connections, keeping
    the preview's own values where the bundle says a value is not copied; add drafts for deployments the source
    has gained. A deployment only the preview has is left as it is."""
    originals = sources(source)
    known = {d.name for d in originals}
    for unknown in sorted(set(values) - known):
        raise ServiceError(f"{source} has no deployment {unknown!r} to fill values for.", field="values")
    mine = {d.name.lower(): d for d in Deployment.objects.filter(environment=preview).select_related("bundle_version")}
    copies: dict[str, str] = {}  # source deployment id -> preview deployment id
    for original in originals:  # producers first, so each consumer's producers are already mapped
        schema = original.bundle_version.params_schema
        params = copy.deepcopy(original.full_params())
        dropped = [m.pointer for m in uncopyable_values(schema, original.params)]
        for where in sorted(dropped, key=len, reverse=True):
            _remove(params, where)
        given = values.get(original.name, {})
        for where in given:
            if where not in dropped:
                raise ServiceError(
                    f"{original.name}: {where} is copied from {source}; only values left to fill can be given.",
                    field="values",
                )
        target = mine.get(original.name.lower())
        kept = {}
        if target is not None:
            theirs = target.full_params()
            kept = {p: v for p in dropped if (v := JsonPointer(p).resolve(theirs, _MISSING)) is not _MISSING}
        for where, value in {**kept, **given}.items():
            _set(params, where, value)
        left = [p for p in dropped if p not in kept and p not in given]
        if left:
            result.left[original.name] = left
        errors = param_errors_quickly(schema, params)  # param_errors, exactly: an environment's many at once
        if errors:
            raise ParamsInvalid(
                {f"/values/{original.name}{where}": said for where, said in errors.items()},
                message=f"The preview's {original.name} cannot deploy: give these values.",
            )
        connections = {k: copies[v] for k, v in (original.connections or {}).items() if v in copies}
        if target is None:
            target = _add_draft(preview, original, params, connections, actor=actor, channel=channel)
            result.added.append(original.name)
        elif _differs(target, original, params, connections):
            _update(preview, target, original, params, connections, actor=actor, channel=channel, source=source)
            result.repointed.append(original.name)
        copies[str(original.pk)] = str(target.pk)


def _differs(target: Deployment, original: Deployment, params: dict, connections: dict) -> bool:
    return (
        target.bundle_version_id != original.bundle_version_id
        or target.full_params() != params
        or (target.connections or {}) != connections
    )


def _update(preview, target, original, params, connections, *, actor, channel, source) -> None:
    if target.bundle_version.bundle_id != original.bundle_version.bundle_id:
        raise ServiceError(
            f"The preview's {target.name} is a {target.bundle_version.bundle.name} and {source}'s a "
            f"{original.bundle_version.bundle.name}: tear the preview down and ensure it again.",
            field="source",
        )
    if target.status == DeploymentStatus.DESTROYING:
        raise Conflict(f"The preview's {target.name} is being destroyed; ensure it again when it has finished.")
    if target.status not in (DeploymentStatus.DRAFT, DeploymentStatus.DESTROYED):
        immutable_errors(deployment=target, params=params, raise_them=True)
    # The source's values were approved for the source, not here: they meet the preview's own policy now, so
    # nothing passes as "kept as approved" when the deploy re-applies them.
    try:
        params_validate(bundle_version=original.bundle_version, params=params)
        params_approve(
            environment=preview,
            bundle_version=original.bundle_version,
            params=params,
            exception=None,
            deployment=target,
        )
    except ParamsInvalid as exc:  # named by deployment: the caller sent no params, the source has them
        raise ParamsInvalid(
            {f"/deployments/{target.name}{at}": said for at, said in exc.errors.items()},
            message=f"{source}'s {original.name} cannot go into the preview: {exc.message}",
        ) from exc
    target.bundle_version = original.bundle_version
    target.connections = connections
    target.params, target.sensitive_params = secrets.split(original.bundle_version.params_schema, params)
    target.version += 1
    record_change(target, channel=channel, actor=actor, note=f"re-pointed to {original} for the preview")
    target.save()


def _add_draft(preview, original, params, connections, *, actor, channel) -> Deployment:
    deployment = Deployment(
        id=uuid.uuid4(),
        environment=preview,
        name=original.name,
        bundle_version=original.bundle_version,
        status=DeploymentStatus.DRAFT,
        connections=connections,
        created_by=actor_user(actor),
        **secrets.stored(original.bundle_version.params_schema, params),
    )
    record_change(deployment, channel=channel, actor=actor, note=f"copied from {original} for the preview")
    deployment.save(force_insert=True)
    return deployment


@transaction.atomic
def preview_teardown(
    *, preview: Environment, actor, channel: str = "ui", reason: str = "", expired: bool = False, now=None
) -> EnvironmentRun | None:
    """Destroy every deployment of the preview, consumers first (an environment teardown, confirmed by the
    call itself). A deploy under way is stopped after its level first. The preview stays, torn down: ensuring
    it again deploys it again. None when there was nothing left to destroy. While runs the teardown does not
    cover are still going (a deploy's, started before it was stopped), the preview is not marked torn down but
    expired now, so that ``previews_expire`` finishes the job."""
    preview = Environment.objects.select_for_update().get(pk=preview.pk)
    if not preview.is_preview:
        raise ServiceError(f"{preview} is not a preview environment; tear it down from its page.")
    active = EnvironmentRun.objects.filter(environment=preview, status__in=EnvironmentRun.ACTIVE).first()
    env_run = None
    if active is not None and active.action == Action.TEARDOWN:
        env_run = active
    else:
        if active is not None:
            environment_run_cancel(env_run=active, actor=actor, channel=channel)
        why = reason or ("the preview expired" if expired else f"preview of {label(preview)} closed")
        try:
            env_run = environment_run_start(
                environment=preview, action=Action.TEARDOWN, actor=actor, channel=channel, reason=why,
                confirm=preview.slug,
            )  # fmt: skip
        except Conflict:
            raise
        except ServiceError:  # nothing left that holds resources: torn down already
            env_run = None
    now = now or timezone.now()
    # Runs of a cancelled deploy that had already started go on, and a draft they create is not in this
    # teardown: the preview then counts as expired now, so beat's next look tears down what they made.
    covered = set(env_run.steps.values_list("deployment_id", flat=True)) if env_run else set()
    pending = sorted(
        Run.objects.filter(deployment__environment=preview, status__in=RUN_ACTIVE)
        .exclude(deployment_id__in=covered)
        .values_list("deployment__name", flat=True)
        .distinct()
    )
    if pending:
        preview.preview_expires_at = min(preview.preview_expires_at or now, now)
    else:
        preview.preview_torn_down_at = now
    record_change(preview, channel=channel, actor=actor, note="preview expired" if expired else "preview torn down")
    preview.save()
    record_event(
        event_type="environment.preview_expired" if expired else "environment.preview_torn_down",
        actor=actor,
        target=preview,
        channel=channel,
        data={
            "repository": preview.preview_repository,
            "pull_request": preview.preview_pull_request,
            "expires_at": preview.preview_expires_at.isoformat() if preview.preview_expires_at else None,
            "environment_run": env_run.pk if env_run else None,
            "still_running": pending,
            "reason": reason,
        },
    )
    return env_run


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def previews_expire(now: datetime | None = None) -> tuple[int, int]:
    """Beat's look at previews: tell each owner ``SLIPWAY_PREVIEW_WARN_HOURS`` before the end (once per time to
    live: an ensure starts it again), and tear down those whose time is up. Returns (warned, torn down)."""
    now = now or timezone.now()
    live = Environment.objects.filter(is_preview=True, preview_torn_down_at=None, preview_expires_at__isnull=False)
    soon = now + timedelta(hours=settings.SLIPWAY_PREVIEW_WARN_HOURS)
    warned = 0
    for pk in live.filter(preview_warned_at=None, preview_expires_at__gt=now, preview_expires_at__lte=soon).values_list(
        "pk", flat=True
    ):
        warned += _warn(pk, now)
    ended = 0
    for preview in live.filter(preview_expires_at__lte=now):
        try:
            preview_teardown(preview=preview, actor=None, channel="system", expired=True, now=now)
            ended += 1
        except ServiceError as exc:  # busy (a run under way): the next look tries again
            log.warning("preview %s expired but was not torn down yet: %s", preview, exc.message)
    return warned, ended


@transaction.atomic
def _warn(pk: int, now: datetime) -> int:
    preview = Environment.objects.select_for_update(of=("self",)).select_related("project", "preview_owner").get(pk=pk)
    if preview.preview_warned_at is not None or preview.preview_torn_down_at is not None:
        return 0
    preview.preview_warned_at = now
    record_change(preview, channel="system", actor=None, note="preview expiry warning sent")
    preview.save()
    expires = preview.preview_expires_at
    record_event(
        event_type="environment.preview_expiring",
        target=preview,
        channel="system",
        data={"owner": actor_name(preview.preview_owner), "expires_at": expires.isoformat()},
    )
    notifications.tell(
        user=preview.preview_owner,
        subject=f"Preview {preview} is torn down on {_when(expires)}",
        body=(
            f"The preview environment {preview} (a copy of {preview.preview_source or 'its source'} for "
            f"{label(preview)}) expires on {_when(expires)}; then every deployment in it is destroyed. To keep it, "
            "ensure it again (a new push to the pull request does, or `slipway env preview ensure`)."
        ),
        path=reverse("deployments:canvas", args=[preview.pk]),
        event="environment.preview_expiring",
    )
    return 1
