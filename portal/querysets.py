"""One permission rule for every door: querysets answer ``visible_to(user)`` and ``actionable_by(user, action)``.

Pages, API viewsets, exports, the estate query and the audit pages all start from these two
methods (as NetBox's ``RestrictedQuerySet.restrict(user, action)``), so what a person may see and
do is decided in one place:

- **view**: platform ops and compliance reviewers see everything; a developer sees what belongs to
  the teams they are a member of (anything else is 404: its existence does not leak).
- **change** (create, edit, apply, destroy, cancel, reveal): ops anywhere; a developer in their
  teams. Reviewers are refused every write by ``ReviewerReadOnlyMiddleware`` and the API's permission.
- **operate** (approve held plans, decide exceptions, force-unlock state, bulk changes): ops only.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404

from .roles import can_read_everything, is_ops

VIEW, CHANGE, OPERATE = "view", "change", "operate"
ACTIONS = (VIEW, CHANGE, OPERATE)


class TeamScopedQuerySet(models.QuerySet):
    """Rows that belong to a team through ``team_path`` ("" for teams themselves)."""

    team_path = ""

    def _in_teams_of(self, user):
        prefix = f"{self.team_path}__" if self.team_path else ""
        return self.filter(**{f"{prefix}memberships__user": user})

    def visible_to(self, user):
        """What ``user`` may see."""
        if not user.is_authenticated:
            return self.none()
        if can_read_everything(user):
            return self
        return self._in_teams_of(user)

    def actionable_by(self, user, action: str):
        """What ``user`` may ``action`` (one of :data:`ACTIONS`)."""
        if action not in ACTIONS:
            raise ValueError(f"Unknown action {action!r}; one of {', '.join(ACTIONS)}.")
        if action == VIEW:
            return self.visible_to(user)
        if not user.is_authenticated:
            return self.none()
        if is_ops(user):
            return self
        if action == OPERATE:
            return self.none()
        return self._in_teams_of(user)


class OpsOnlyQuerySet(models.QuerySet):
    """Rows only platform ops see and act on (bulk changes)."""

    def visible_to(self, user):
        return self if is_ops(user) else self.none()

    def actionable_by(self, user, action: str):
        return self.visible_to(user)


def object_for(user, queryset, *, action: str = VIEW, message: str = "", **lookup):
    """The one object of ``queryset`` matching ``lookup`` that ``user`` may see: 404 when they may not see it
    (nothing leaks), 403 when they may see it but not ``action`` it."""
    try:
        obj = queryset.visible_to(user).filter(**lookup).first()
    except (ValidationError, ValueError):  # a lookup value of the wrong kind (not a UUID, not a number)
        obj = None
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name}.")
    return require_actionable(user, obj, action, message)


def require_actionable(user, obj, action: str, message: str = ""):
    """``obj`` (one ``user`` can see) if ``user`` may ``action`` it; else 403 with ``message``."""
    if action != VIEW and not type(obj)._default_manager.actionable_by(user, action).filter(pk=obj.pk).exists():
        raise PermissionDenied(message or f"You can read this {obj._meta.verbose_name} but not {action} it.")
    return obj
