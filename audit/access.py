"""Who may see the reviewer pages: the compliance group and platform ops. Nobody changes anything here."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from deployments.models import Deployment
from deployments.selectors import can_change_deployment, deployments_visible_to
from portal.roles import can_read_everything


def require_reviewer(request) -> None:
    """403 unless the user reads the whole estate (compliance reviewers and ops)."""
    if not can_read_everything(request.user):
        raise PermissionDenied("The estate audit pages are for compliance reviewers and platform ops.")


def get_deployment_for_history(request, pk, *, write: bool = False) -> Deployment:
    """A deployment's history is readable by whoever can see the deployment; restoring needs write access."""
    deployment = deployments_visible_to(request.user).filter(pk=pk).first()
    if deployment is None:
        raise Http404("No such deployment.")
    if write and not can_change_deployment(request.user, deployment):
        raise PermissionDenied("You can read this deployment's history but not restore it.")
    return deployment
