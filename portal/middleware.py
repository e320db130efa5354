"""Answers people read instead of Django's: a wrong encryption key as one sentence, not a traceback (issue 11,
item 15); with DEBUG on, a page that is not there as Slipway's 404 page (issue 19)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.defaults import page_not_found

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


class NotFoundPageMiddleware:
    """With ``DEBUG`` on, a mistyped address (or an object that is not there) still gets Slipway's 404 page, as
    in production, instead of Django's technical page listing every URL pattern. Off in production, where
    Django already answers with ``templates/404.html``.

    Placed after CommonMiddleware: its "add the slash" redirect still happens (it follows a 404 answer)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.DEBUG:
            try:
                resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404 as exc:
                return page_not_found(request, exc)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if settings.DEBUG and isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None
