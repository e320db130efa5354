"""Gives every request an id, echoed in ``X-Request-ID`` and recorded with what it changed."""

from __future__ import annotations

import re
import uuid

from django.core.exceptions import PermissionDenied
from django.urls import reverse

from portal.context import bound
from portal.roles import is_auditor, is_ops

# An id from a trusted proxy is kept so logs across services line up; anything odd is replaced.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = None

    def channel_for(self, request) -> str:
        if self.admin_prefix is None:
            self.admin_prefix = reverse("admin:index")
        if request.path.startswith(self.admin_prefix):
            return "admin"
        if request.path.startswith("/api/"):
            return "api"
        return "ui"

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _ACCEPTABLE_ID.match(incoming) else new_request_id()
        with bound(request_id=request.id, channel=self.channel_for(request)):
            response = self.get_response(request)
        response["X-Request-ID"] = request.id
        return response


# Signing in and out are the only writes a reviewer makes.
_REVIEWER_MAY_POST = ("/accounts/login/", "/accounts/logout/")


class ReviewerReadOnlyMiddleware:
    """Compliance reviewers read everything and change nothing: any write they send is refused here,
    whichever view it targets, including views added later. (The API checks the same rule in
    :class:`audit.permissions.ReviewersReadOnly`, after token authentication.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and is_read_only_reviewer(request.user)
            and not request.path.startswith(_REVIEWER_MAY_POST)
        ):
            raise PermissionDenied("Compliance reviewers can read everything and change nothing.")
        return self.get_response(request)


def is_read_only_reviewer(user) -> bool:
    return is_auditor(user) and not is_ops(user)
