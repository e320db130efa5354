"""Fork an environment: a new environment (in the same project or another) with a draft copy of every
deployment, params and connections included, connections re-pointed to the copies.

Values the bundle marks ``x-copyable: false`` (secrets, globally unique names, identifiers of something that
exists once) are not copied: the person forking fills them (``values``), or leaves them out, in which case
the bundle's default (or the module's) applies and a required one is reported as still to fill. The new
environment gets the default policy of its tier, and nothing runs until someone deploys it (deploy-all).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from jsonpointer import JsonPointer, JsonPointerException

from bundles.schema import uncopyable_values
from bundles.schema.fast import param_errors_quickly
from bundles.schema.generate import generated_value, rule_of
from portal.actor import actor_user
from portal.errors import ServiceError
from portal.events import record_event
from portal.history import record_change

from .. import secrets
from ..choices import DeploymentStatus
from ..models import Deployment, Environment, Project
from .graph import layers


@dataclass
class ForkField:
    """A value of a source deployment that is not copied: the fork form asks for it."""

    deployment: str
    pointer: str
    title: str
    sensitive: bool
    schema: dict

    @property
    def generated(self) -> bool:
        """Whether the bundle gives a rule (``x-generate``) that makes a value when none is given."""
        return rule_of(self.schema) is not None

    @property
    def key(self) -> str:
        return f"{self.deployment}{self.pointer}"


@dataclass
class Fork:
    environment: Environment
    deployments: list[Deployment]
    left: dict[str, list[str]] = field(default_factory=dict)  # deployment name -> pointers left unset
    generated: dict[str, list[str]] = field(default_factory=dict)  # deployment name -> pointers made by x-generate
    missing: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # still invalid: name -> errors


def sources(environment: Environment) -> list[Deployment]:
    """The deployments a fork copies (not destroyed), producers first."""
    rows = Deployment.objects.filter(environment=environment).exclude(status=DeploymentStatus.DESTROYED)
    return [d for layer in layers(rows.select_related("bundle_version__bundle")) for d in layer]


def fork_fields(environment: Environment) -> list[ForkField]:
    """Every value of the environment's deployments that a fork leaves for a person to fill."""
    found = []
    for deployment in sources(environment):
        schema = deployment.bundle_version.params_schema
        for match in uncopyable_values(schema, deployment.params):
            found.append(
                ForkField(
                    deployment=deployment.name,
                    pointer=match.pointer,
                    title=match.schema.get("title") or match.pointer.rsplit("/", 1)[-1],
                    sensitive=match.schema.get("x-sensitive") is True,
                    schema=match.schema,
                )
            )
    return found


@transaction.atomic
def environment_fork(
    *,
    source: Environment,
    project: Project,
    slug: str,
    name: str,
    tier: str,
    actor,
    channel: str = "ui",
    reason: str = "",
    values: dict[str, dict[str, object]] | None = None,
) -> Fork:
    """Create the environment ``project/slug`` as a draft copy of ``source``.

    ``values`` fills the values that are not copied: ``{deployment name: {JSON pointer: value}}``.
    """
    values = values or {}
    originals = sources(source)
    known = {d.name for d in originals}
    for unknown in sorted(set(values) - known):
        raise ServiceError(f"{source} has no deployment {unknown!r} to fill values for.", field="values")
    if Environment.objects.filter(project=project, slug=slug).exists():
        raise ServiceError(f"{project} already has an environment {slug!r}.", field="slug")
    environment = Environment(project=project, slug=slug, name=name or slug, tier=tier)
    try:
        environment.full_clean(exclude=["project"])
    except Exception as exc:  # a bad slug or tier, in Django's words
        messages = getattr(exc, "message_dict", {"slug": [str(exc)]})
        where, said = next(iter(messages.items()))
        raise ServiceError(f"{where}: {' '.join(said)}", field=where) from exc
    record_change(environment, channel=channel, actor=actor, note=reason or f"forked from {source}")
    try:
        with transaction.atomic():
            environment.save()
    except IntegrityError as exc:
        raise ServiceError(f"{project} already has an environment {slug!r}.", field="slug") from exc

    copies = {str(d.pk): uuid.uuid4() for d in originals}
    fork = Fork(environment, [])
    for original in originals:
        schema = original.bundle_version.params_schema
        params = copy.deepcopy(original.full_params())
        dropped = [m.pointer for m in uncopyable_values(schema, original.params)]
        for where in sorted(dropped, key=len, reverse=True):
            _remove(params, where)
        given = values.get(original.name, {})
        for where, value in given.items():
            if where not in dropped:
                raise ServiceError(
                    f"{original.name}: {where} is copied from {source}; only values left to fill can be given.",
                    field="values",
                )
            _set(params, where, value)
        made = generate_uncopied(schema, original.full_params(), params, [p for p in dropped if p not in given])
        if made:
            fork.generated[original.name] = made
        left = [p for p in dropped if p not in given and p not in made]
        if left:
            fork.left[original.name] = left
        errors = param_errors_quickly(schema, params)  # param_errors, exactly: an environment's many at once
        if errors:
            fork.missing[original.name] = errors
        deployment = Deployment(
            id=copies[str(original.pk)],
            environment=environment,
            name=original.name,
            bundle_version=original.bundle_version,
            status=DeploymentStatus.DRAFT,
            connections={k: str(copies[v]) for k, v in (original.connections or {}).items() if v in copies},
            created_by=actor_user(actor),
            **secrets.stored(schema, params),
        )
        record_change(deployment, channel=channel, actor=actor, note=f"forked from {original}")
        deployment.save(force_insert=True)
        fork.deployments.append(deployment)
    record_event(
        event_type="environment.forked",
        actor=actor,
        target=environment,
        channel=channel,
        data={
            "source": str(source),
            "source_id": source.pk,
            "deployments": [d.name for d in fork.deployments],
            "left_to_fill": fork.left,
            "generated": fork.generated,  # where, never what: a generated value may be a secret
            "reason": reason,
        },
    )
    return fork


def generate_uncopied(schema: dict, source: dict, params: dict, places: list[str]) -> list[str]:
    """Fill each of ``places`` (values not copied) whose field has an ``x-generate`` rule with a value it makes
    from ``source``'s value there; the pointers filled. Values are set in ``params`` only: the caller stores them
    (a secret encrypted, as every secret is) and never logs them."""
    rules = {m.pointer: m for m in uncopyable_values(schema, source)}
    made = []
    for where in places:
        match = rules.get(where)
        value = generated_value(match.schema, match.value) if match is not None else None
        if value is not None:
            _set(params, where, value)
            made.append(where)
    return made


def _remove(params: dict, where: str) -> None:
    try:
        parts = JsonPointer(where).parts
        parent = JsonPointer.from_parts(parts[:-1]).resolve(params)
        key = parts[-1]
        if isinstance(parent, list):
            parent.pop(int(key))
        else:
            parent.pop(key, None)
    except (JsonPointerException, KeyError, IndexError, ValueError):
        pass


def _set(params: dict, where: str, value) -> None:
    parts = JsonPointer(where).parts
    target = params
    for part in parts[:-1]:
        target = target.setdefault(part, {}) if isinstance(target, dict) else target[int(part)]
    if isinstance(target, list):
        target.insert(int(parts[-1]), value)
    else:
        target[parts[-1]] = value
