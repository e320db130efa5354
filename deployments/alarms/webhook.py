"""The alarm webhook, ``POST /hooks/alarms/<deployment id>/``: where a deployment's cloud alarms notify Slipway.

No session and no CSRF token (a machine posts here; the token is the credential, sent as HTTP basic auth or a
bearer token, never a cookie a cross-site form could borrow). Bounded: bodies up to
``services.MAX_BODY_BYTES``; per deployment and per client address a number of requests a minute
(``SLIPWAY_ALARM_WEBHOOK_RATE``, 120), counted in the process's cache. See docs/alarms.md.
"""

from __future__ import annotations

import base64
import binascii
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from portal.inputs import loads, value_problems

from ..models import Deployment
from .services import MAX_BODY_BYTES, Refused, alarms_receive, alertmanager_alerts, sns_receive, token_matches

log = logging.getLogger(__name__)


def _answer(status: int, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"message": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="slipway-alarms"'
    if status == 405:
        response["Allow"] = "POST"
    return response


def _token(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def _limited(key: str) -> bool:
    """Over the requests allowed a minute for ``key`` (a fixed window in the cache)."""
    rate = int(getattr(settings, "SLIPWAY_ALARM_WEBHOOK_RATE", 120))
    window = f"alarm-hook:{key}:{int(timezone.now().timestamp() // 60)}"
    cache.add(window, 0, timeout=70)
    try:
        count = cache.incr(window)
    except ValueError:
        count = 1
    return count > rate


def _json(raw: bytes) -> dict:
    """The body as a JSON object within the portal's limits (depth, numbers, no NUL or lone surrogate)."""
    try:
        data = loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Refused(400, "The body is not JSON (UTF-8).") from None
    if not isinstance(data, dict):
        raise Refused(400, "The body must be a JSON object.")
    problems = value_problems(data)
    if problems:
        where, found = next(iter(problems.items()))
        raise Refused(400, f"The body cannot be stored: {where or '/'}: {found[0]}")
    return data


@csrf_exempt
def alarm_webhook(request: HttpRequest, deployment_id) -> JsonResponse:
    if request.method != "POST":
        return _answer(405, "POST an Alertmanager webhook payload or an SNS message here.")
    address = request.META.get("REMOTE_ADDR", "")
    if _limited(f"ip:{address}") or _limited(f"deployment:{deployment_id}"):
        return _answer(429, "Too many notifications: try again in a minute.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return _answer(413, f"The body is over {MAX_BODY_BYTES} bytes.")
    deployment = (
        Deployment.objects.select_related("bundle_version", "environment__project__team")
        .filter(pk=deployment_id)
        .first()
    )
    if deployment is None:
        return _answer(404, "No such deployment: check the webhook URL.")
    token = _token(request)
    if not token:
        return _answer(401, "Send the deployment's webhook token (basic auth or a bearer token).")
    if not token_matches(deployment, token):
        log.warning("alarm webhook: a wrong token for deployment %s from %s", deployment.pk, address)
        return _answer(403, "Wrong token for this deployment's alarm webhook.")
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return _answer(413, f"The body is over {MAX_BODY_BYTES} bytes.")
    try:
        data = _json(raw)
        sns_type = request.headers.get("x-amz-sns-message-type", "")
        if sns_type or ("Type" in data and "TopicArn" in data):
            result = sns_receive(deployment=deployment, envelope=data, message_type=sns_type)
        else:
            result = alarms_receive(deployment=deployment, alerts=alertmanager_alerts(data))
    except Refused as exc:
        return _answer(exc.status, exc.message, **exc.extra)
    return _answer(200, result.pop("message"), **result)
