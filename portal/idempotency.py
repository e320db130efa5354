"""``Idempotency-Key``: a retried create, apply, destroy or bulk request is answered, not repeated.

A client that sends ``Idempotency-Key: <any string of its choosing>`` with a write may send the
same request again (a timeout, a dropped connection, a CI job restarted) and gets the response of
the first one, with ``Idempotent-Replayed: true``; nothing runs twice. Keys are scoped to the user
and the endpoint (method and path). The same key with a different body is refused with 422: the
client has a bug, and guessing which request it meant would be worse.

The key row, the work and the stored response are one transaction. A concurrent duplicate's
insert waits on the unique constraint until the first request commits, then finds its row and
replays it; if the first request failed, its row rolled back with it and the duplicate runs.
Only successful (2xx) responses are kept: a refused request wrote nothing and may be retried
with a corrected body under the same key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# 1 to 255 printable ASCII characters, not starting or ending with a space (HTTP trims those anyway).
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
_KEY_RE = re.compile(KEY_PATTERN)

PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    pattern=KEY_PATTERN,
    description=f"1 to {MAX_KEY_LENGTH} printable ASCII characters, unique per request (a UUID is a good choice). "
    "Sending the same request again with the same key returns the first response and runs nothing twice; the same "
    "key with a different body is refused (422); a key still being processed answers 409. "
    "A key that is not printable ASCII or is longer is refused (400).",
)


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


class KeyInFlight(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_flight"


def _checked_key(raw: str) -> str:
    key = raw.strip()
    if not _KEY_RE.match(key):
        raise ValidationError(
            {HEADER: f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID."}
        )
    return key


def _digest(body: str) -> str:
    """A keyed digest (HMAC-SHA-256 under SECRET_KEY) of a request body: enough to tell a retry from another
    request, and, unlike a plain hash, no way to guess from the database the secrets the body held."""
    return hmac.new(settings.SECRET_KEY.encode(), body.encode(), hashlib.sha256).hexdigest()


def _fingerprint(request: Request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict from a form or multipart body
        data = {k: v for k, v in data.lists()}
    body = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return _digest(f"{request.META.get('QUERY_STRING', '')}\n{body}")


def _replay(record: IdempotencyKey) -> Response:
    headers = {REPLAYED_HEADER: "true"}
    if record.location:
        headers["Location"] = record.location
    return Response(record.response_body, status=record.status_code, headers=headers)


def _claim(user, key: str, endpoint: str, fingerprint: str) -> tuple[IdempotencyKey | None, IdempotencyKey | None]:
    """Inside the caller's transaction: this request's new key row, or (None, the row an earlier request with
    the key left; None when that request rolled back meanwhile). A concurrent duplicate's insert waits on the
    unique constraint until the first request's transaction ends."""
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=user, key=key, endpoint=endpoint, fingerprint=fingerprint, status_code=0
            ), None
    except IntegrityError:
        return None, IdempotencyKey.objects.filter(user=user, endpoint=endpoint, key=key).first()


def idempotent(handler):
    """Honour ``Idempotency-Key`` on a DRF handler (a viewset method or an ``@api_view`` function)."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        request = next(arg for arg in args if isinstance(arg, Request))
        raw = request.headers.get(HEADER)
        if raw is None:
            return handler(*args, **kwargs)
        key = _checked_key(raw)
        endpoint = f"{request.method} {request.path}"[:300]
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record, earlier = _claim(request.user, key, endpoint, fingerprint)
            if record is None:
                if earlier is None:  # the first request rolled back between our insert and this read
                    raise KeyInFlight(f"A request with this {HEADER} is still being processed; retry it shortly.")
                if earlier.fingerprint != fingerprint:
                    raise KeyReused(
                        f"This {HEADER} was already used for a different request to {endpoint}; "
                        "use a new key for a new request."
                    )
                return _replay(earlier)
            response = handler(*args, **kwargs)
            if status.is_success(response.status_code):
                record.status_code = response.status_code
                record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
                record.location = response.get("Location", "")[:500]
                record.save(update_fields=["status_code", "response_body", "location"])
            else:
                record.delete()
            return response

    return wrapper


# --- page forms ------------------------------------------------------------------------------------
# A browser may send a form twice: a double click, a reload after a slow answer, or Chromium resending a
# POST whose kept-alive connection the server closed. Each drawn create form carries a one-off token; the
# first submit that succeeds keeps where it led, and the same token again is sent there, acting once.

FORM_FIELD = "submission"


def new_form_token(request) -> str:
    """The token a form page draws: the posted one when the page is redrawn after a refused submit (a
    refused submit kept nothing, so the same token is still unused), otherwise a new one."""
    posted = request.POST.get(FORM_FIELD, "") if request.method == "POST" else ""
    return posted if _KEY_RE.match(posted) else uuid.uuid4().hex


def _form_fingerprint(request) -> str:
    data = {k: v for k, v in request.POST.lists() if k != "csrfmiddlewaretoken"}
    return _digest(json.dumps(data, sort_keys=True, separators=(",", ":")))


def form_idempotent(view):
    """Answer a page form's repeated submit (same user, page and token, same fields) with the redirect the
    first one got, without acting again. The token's row, the work and the outcome are one transaction, so
    a duplicate that arrives while the first is still working waits for it and then follows it."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.POST.get(FORM_FIELD, "") if request.method == "POST" else ""
        if not key or not request.user.is_authenticated or not _KEY_RE.match(key):
            return view(request, *args, **kwargs)
        endpoint = f"FORM {request.path}"[:300]
        fingerprint = _form_fingerprint(request)
        with transaction.atomic():
            record, earlier = _claim(request.user, key, endpoint, fingerprint)
            if record is None:
                if earlier is not None and earlier.fingerprint == fingerprint and earlier.location:
                    return HttpResponseRedirect(earlier.location)
                return view(request, *args, **kwargs)  # other fields under the same token: a submit of its own
            response = view(request, *args, **kwargs)
            if response.status_code in (301, 302, 303) and response.get("Location"):
                record.status_code = response.status_code
                record.location = response["Location"][:500]
                record.save(update_fields=["status_code", "location"])
            else:
                record.delete()
            return response

    return wrapper
