"""A wrong encryption key reaches people as one sentence, not a traceback (issue 11, item 15)."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.shortcuts import render

from .crypto import KeyMismatch

log = logging.getLogger(__name__)


class KeyMismatchMiddleware:
    """Answer :class:`portal.crypto.KeyMismatch` with its sentence: JSON under /api/, a page elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, KeyMismatch):
            return None
        log.error("%s (%s %s)", exception, request.method, request.path)
        if request.path.startswith(("/api/", "/state/")):
            return JsonResponse({"message": str(exception), "errors": {}}, status=500)
        return render(request, "500_key.html", {"message": str(exception)}, status=500)
