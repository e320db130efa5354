"""Gives every request an id, echoed in ``X-Request-ID`` and recorded with what it changed."""

from __future__ import annotations

import re
import uuid

from django.urls import reverse

from .context import bound

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
