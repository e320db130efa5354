"""Who may see the reviewer pages: the compliance group and platform ops. Nobody changes anything here."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from deployments.models import Deployment
from deployments.selectors import DEPLOYMENT_RELATED
from portal.querysets import CHANGE, VIEW, object_for
from portal.roles import can_read_everything


def require_reviewer(user, what: str = "The estate audit pages are") -> None:
    """403 unless the user reads the whole estate (compliance reviewers and ops)."""
    if not can_read_everything(user):
        raise PermissionDenied(f"{what} for compliance reviewers and platform ops.")


def deployment_for_history(user, pk, *, write: bool = False) -> Deployment:
    """A deployment's history is readable by whoever can see the deployment; restoring needs write access."""
    queryset = Deployment.objects.select_related(*DEPLOYMENT_RELATED)
    action, message = (CHANGE, "You can read this deployment's history but not restore it.") if write else (VIEW, "")
    return object_for(user, queryset, action=action, message=message, pk=pk)
