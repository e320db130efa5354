"""Every history row says who changed what, through which door, on what basis, in which request,
and where the changed thing stood at that moment.

Every history-tracked model (teams, memberships, bundles and their versions, projects,
environments, policies, deployments) declares ``history = tracked_history()``, so its history
table has these columns beside the tracked fields (NetBox keeps its change log the same way: as
columns, not as text to parse):

=========================  ===============================================================
``history_channel``        the door: ui, api, admin, bulk, restore, system (:class:`Channel`)
``history_actor``          the actor's name as text, so the row still reads after the user goes
``history_request_id``     the request that made the change (empty outside a request)
``history_basis``          the approval basis, e.g. "approved by policy checkout/production/v3"
``history_change_reason``  simple-history's own column: the reason a person gave, as text
``scope_team_id``,         the team, project, environment and tier the object belonged to when
``scope_team``, …          the row was written, as ids and as slugs; ``scope_tier`` the tier
=========================  ===============================================================

The saving code says channel, actor, basis and reason with :func:`record_change` before
``save()``. What it leaves out comes from the current request (:mod:`portal.context`) and the
signed-in user; the scope comes from the instance's ``history_scope()``. Reviewers' pages filter
and group by these columns, so a project that moves to another team, or an environment that
changes tier, leaves its earlier history where it was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords

from .actor import Channel, actor_user
from .context import current_channel, current_request_id


class ScopeColumns(models.Model):
    """Where a record's subject stood when the record was written: team, project, environment (ids and
    slugs) and tier. History rows and audit events have them."""

    scope_team_id = models.BigIntegerField(null=True, blank=True)
    scope_team = models.CharField(max_length=60, blank=True, default="", db_index=True)
    scope_project_id = models.BigIntegerField(null=True, blank=True)
    scope_project = models.CharField(max_length=60, blank=True, default="", db_index=True)
    scope_environment_id = models.BigIntegerField(null=True, blank=True)
    scope_environment = models.CharField(max_length=60, blank=True, default="")
    scope_tier = models.CharField(max_length=20, blank=True, default="", db_index=True)

    class Meta:
        abstract = True


class AuditedHistory(ScopeColumns):
    """The columns every history table has (see the module docstring). Abstract: simple-history's base."""

    history_channel = models.CharField(max_length=20, blank=True, default="")
    history_actor = models.CharField(max_length=150, blank=True, default="")
    history_request_id = models.CharField(max_length=64, blank=True, default="")
    history_basis = models.TextField(blank=True, default="")

    class Meta:
        abstract = True


def tracked_history(**kwargs) -> HistoricalRecords:
    """``HistoricalRecords`` with the audit columns: what every tracked model declares as ``history``."""
    return HistoricalRecords(bases=[AuditedHistory], **kwargs)


@dataclass(frozen=True)
class Scope:
    """Where an object stands: its team, project, environment and tier (empty where it has none)."""

    team_id: int | None = None
    team: str = ""
    project_id: int | None = None
    project: str = ""
    environment_id: int | None = None
    environment: str = ""
    tier: str = ""

    def within(self, **more) -> Scope:
        """This scope narrowed further (a project's scope plus its environment)."""
        return replace(self, **more)

    def columns(self) -> dict[str, Any]:
        return {f"scope_{name}": value for name, value in asdict(self).items()}


@dataclass(frozen=True)
class ChangeReason:
    """What one history row says about its change, read back from the columns."""

    channel: str = ""
    actor: str = ""
    request_id: str = ""
    basis: str = ""
    note: str = ""

    @property
    def channel_label(self) -> str:
        return dict(Channel.choices).get(self.channel, self.channel or "unknown")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def record_change(instance: models.Model, *, channel: str = "", actor=None, basis: str = "", note: str = "") -> None:
    """Say why the next ``save()`` of ``instance`` changes it; the history row that save writes records it.

    ``channel`` defaults to the current request's door (``system`` outside a request); ``actor`` (a
    user, or None for the system) is stored by name.
    """
    instance._change_reason = note
    instance._history_meta = {"channel": channel, "actor": actor, "basis": basis}


def _name_of(user) -> str:
    user = actor_user(user)
    return user.get_username() if user is not None else ""


def scope_of(obj) -> Scope:
    """Where ``obj`` stands now (empty for what belongs to no team: bundles, users)."""
    return obj.history_scope() if hasattr(obj, "history_scope") else Scope()


def history_columns(instance: models.Model, *, channel: str = "", actor=None, basis: str = "", user=None) -> dict:
    """The audit columns for a history row of ``instance`` written now (context fills what is not given)."""
    scope = scope_of(instance)
    return {
        "history_channel": channel or current_channel() or Channel.SYSTEM,
        "history_actor": (_name_of(actor) or _name_of(user))[:150],
        "history_request_id": current_request_id()[:64],
        "history_basis": basis or "",
        **scope.columns(),
    }


def complete_history_row(sender, instance, history_instance, **kwargs) -> None:
    """``pre_create_historical_record``: fill the audit columns of the row simple-history is about to write.

    The instance's own words (:func:`record_change`) are used once: a later save of the same object
    without new words records the context, not a stale reason.
    """
    if not isinstance(history_instance, AuditedHistory):
        return
    meta = instance.__dict__.pop("_history_meta", None) or {}
    columns = history_columns(instance, user=history_instance.history_user, **meta)
    for name, value in columns.items():
        setattr(history_instance, name, value)
    instance.__dict__.pop("_change_reason", None)


def change_of(row) -> ChangeReason:
    """The change a history row records: channel, actor (the name kept, else the user), request, basis, reason."""
    user = getattr(row, "history_user", None)
    return ChangeReason(
        channel=row.history_channel,
        actor=row.history_actor or (user.get_username() if user is not None else ""),
        request_id=row.history_request_id,
        basis=row.history_basis,
        note=row.history_change_reason or "",
    )


def record_scope_change(model, objects, *, note: str, actor=None) -> int:
    """A history row for each of ``objects`` whose scope changed with something above it (a project moved
    to another team, an environment changed tier): nothing of theirs changed, but from now on their
    history is filed under the new scope. An object whose newest row already has that scope gets none.
    Returns how many rows were written."""
    scope_fields = list(Scope().columns())
    count = 0
    for obj in objects:
        columns = history_columns(obj, actor=actor)
        newest = model.history.filter(id=obj.pk).order_by("-history_date", "-history_id").values(*scope_fields).first()
        if newest == {name: columns[name] for name in scope_fields}:
            continue
        model.history.bulk_history_create(
            [obj],
            update=True,
            default_user=actor_user(actor),
            default_change_reason=note,
            custom_historical_attrs=columns,
        )
        count += 1
    return count
