"""The sandbox cloud's HTTP API under ``/sandbox/api/v1/`` (documented in docs/sandbox.md).

A small JSON API in the style of a cloud provider's: a bearer token (the sandbox's own, never a
Slipway session or API token), resources created, read, modified and deleted by id, and operations
that take time (``status`` tells where one is, ``ready_in_seconds`` how long it has left). Thin
views: the work is in ``services`` and ``selectors``.
"""

from __future__ import annotations

import functools
import hmac
import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import selectors, services
from .errors import Invalid, SandboxError
from .kinds import KINDS
from .models import Delivery, Event, Resource, Status
from .validation import refuse_bad_text

MAX_BODY_BYTES = 64 * 1024
MAX_LIMIT = 500


def _timestamp(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def resource_json(resource: Resource) -> dict:
    """A resource as the API shows it. Write-only values appear only as the names of those that are set."""
    return {
        "id": resource.id,
        "kind": resource.kind,
        "name": resource.name,
        "status": resource.status,
        "ready_in_seconds": round(resource.ready_in_seconds(), 3),
        "attributes": resource.attributes,
        "computed": resource.computed,
        "secrets_set": sorted(resource.secret_digests),
        "tags": resource.tags,
        "metrics": resource.metrics,
        **({"alarm_state": resource.alarm_state} if resource.kind == "alarm" else {}),
        "version": resource.version,
        "created_at": _timestamp(resource.created_at),
        "updated_at": _timestamp(resource.updated_at),
    }


def event_json(event: Event) -> dict:
    return {
        "id": event.id,
        "resource_id": event.resource_id,
        "kind": event.kind,
        "name": event.name,
        "action": event.action,
        "actor": event.actor,
        "changes": event.changes,
        "created_at": _timestamp(event.created_at),
    }


def _error(status: int, message: str, errors: dict | None = None, **headers) -> JsonResponse:
    response = JsonResponse({"message": message, "errors": errors or {}}, status=status)
    for key, value in headers.items():
        response[key.replace("_", "-")] = value
    return response


def _actor(request: HttpRequest) -> str:
    agent = request.headers.get("User-Agent", "")[:120] or "unknown client"
    return f"api: {agent}"


def api_view(*methods: str):
    """Token auth, allowed methods, and SandboxError -> its JSON answer, for every API view."""

    def decorate(view):
        @csrf_exempt  # a bearer token, never a cookie: nothing for a cross-site form to borrow
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            expected = settings.SLIPWAY_SANDBOX_TOKEN
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
                return _error(
                    401,
                    "Authentication required: send 'Authorization: Bearer <sandbox token>' (SLIPWAY_SANDBOX_TOKEN).",
                    WWW_Authenticate='Bearer realm="sandbox"',
                )
            if request.method not in methods:
                return _error(405, f"{request.method} is not allowed here.", Allow=", ".join(methods))
            try:
                return view(request, *args, **kwargs)
            except SandboxError as exc:
                return JsonResponse(exc.as_json(), status=exc.status)

        return wrapper

    return decorate


def _body(request: HttpRequest) -> dict:
    """The JSON object sent, within limits, or Invalid (a 400 with the reason); 413 when too large."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise BodyTooLarge(f"The body is over {MAX_BODY_BYTES} bytes.")
    raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"The body is over {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        return {}

    def refuse_constant(name):
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        data = json.loads(raw, parse_constant=refuse_constant)
    except (ValueError, RecursionError) as exc:  # also: too deep, integers of thousands of digits
        raise Invalid(f"The body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object.")
    refuse_bad_text(data)
    return data


class BodyTooLarge(SandboxError):
    status = 413


def _int(value: str, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise Invalid(f"{name} must be a whole number.", {f"/{name}": ["Must be a whole number."]}) from None
    if number < low or (high is not None and number > high):
        raise Invalid(f"{name} is out of range.", {f"/{name}": [f"Must be from {low} to {high}."]})
    return number


@api_view("GET")
def kinds(request: HttpRequest) -> JsonResponse:
    """The resource kinds and their attributes: what a client may send and what the cloud computes."""
    return JsonResponse(
        {
            "results": [
                {
                    "kind": k.name,
                    "title": k.title,
                    "description": k.description,
                    "fields": [
                        {
                            "name": f.name,
                            "type": f.type,
                            "title": f.title,
                            "required": f.required,
                            "default": f.default,
                            "replace_on_change": f.replace,
                            "write_only": f.write_only,
                            "schema": f.json_schema(),
                        }
                        for f in k.fields
                    ],
                    "computed": [{"name": c.name, "type": c.type, "title": c.title} for c in k.computed],
                    "metrics": list(k.metrics),
                    "seconds": {"create": k.create_seconds, "update": k.update_seconds, "delete": k.delete_seconds},
                }
                for k in KINDS.values()
            ]
        }
    )


@api_view("GET", "POST")
def resources(request: HttpRequest) -> JsonResponse:
    """GET: list (``?kind=&name=&q=&status=&limit=&offset=``). POST: create ``{kind, name, attributes, tags}``."""
    if request.method == "POST":
        body = _body(request)
        unknown = sorted(set(body) - {"kind", "name", "attributes", "tags"})
        if unknown:
            raise Invalid("Unknown fields in the body.", {f"/{k}": ["Unknown field."] for k in unknown})
        created = services.resource_create(
            kind=body.get("kind"),
            name=body.get("name"),
            attributes=body.get("attributes"),
            tags=body.get("tags"),
            actor=_actor(request),
        )
        payload = resource_json(created.resource)
        if created.secrets:
            payload["secrets"] = created.secrets  # returned once, here; the cloud keeps only digests
        return JsonResponse(payload, status=201)
    params = request.GET
    refuse_bad_text(dict(params.items()))
    status = params.get("status", "")
    if status and status not in Status.values:
        raise Invalid("Unknown status.", {"/status": [f"Must be one of: {', '.join(Status.values)}."]})
    kind = params.get("kind", "")
    if kind and kind not in KINDS:
        raise Invalid("Unknown resource kind.", {"/kind": [f"Must be one of: {', '.join(KINDS)}."]})
    found = selectors.resources(kind=kind, name=params.get("name", ""), q=params.get("q", "")[:200], status=status)
    limit = _int(params.get("limit"), "limit", 100, low=1, high=MAX_LIMIT)
    offset = _int(params.get("offset"), "offset", 0, high=10**9)
    return JsonResponse({"count": found.count(), "results": [resource_json(r) for r in found[offset : offset + limit]]})


@api_view("GET", "PATCH", "DELETE")
def resource(request: HttpRequest, resource_id: str) -> JsonResponse:
    """GET a resource; PATCH ``{attributes?, tags?, expected_version?}``; DELETE it (202 while it goes)."""
    if request.method == "PATCH":
        body = _body(request)
        unknown = sorted(set(body) - {"attributes", "tags", "expected_version"})
        if unknown:
            raise Invalid("Unknown fields in the body.", {f"/{k}": ["Unknown field."] for k in unknown})
        expected = body.get("expected_version")
        if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
            raise Invalid(
                "expected_version must be a whole number.", {"/expected_version": ["Must be a whole number."]}
            )
        updated = services.resource_update(
            resource_id=resource_id,
            attributes=body.get("attributes"),
            tags=body.get("tags"),
            expected_version=expected,
            actor=_actor(request),
        )
        return JsonResponse(resource_json(updated))
    if request.method == "DELETE":
        remaining = services.resource_delete(resource_id=resource_id, actor=_actor(request))
        if remaining is None:
            return JsonResponse({"id": resource_id, "status": "deleted"}, status=200)
        return JsonResponse(resource_json(remaining), status=202)
    return JsonResponse(resource_json(selectors.resource(resource_id)))


@api_view("GET")
def events(request: HttpRequest) -> JsonResponse:
    """The activity log, newest first (``?resource=ID&limit=``): who created, changed or deleted what."""
    refuse_bad_text(dict(request.GET.items()))
    limit = _int(request.GET.get("limit"), "limit", 100, low=1, high=MAX_LIMIT)
    found = selectors.events(resource_id=request.GET.get("resource", "")[:40], limit=limit)
    return JsonResponse({"results": [event_json(e) for e in found]})


@api_view("POST", "PUT")
def metrics(request: HttpRequest, resource_id: str) -> JsonResponse:
    """Set a resource's simulated utilisation ``{"metrics": {"storage_used_percent": 85}}`` (null clears one);
    the alarms watching it are evaluated at once. Answers the resource."""
    body = _body(request)
    unknown = sorted(set(body) - {"metrics"})
    if unknown:
        raise Invalid("Unknown fields in the body.", {f"/{k}": ["Unknown field."] for k in unknown})
    updated = services.metrics_set(resource_id=resource_id, metrics=body.get("metrics"), actor=_actor(request))
    return JsonResponse(resource_json(updated))


def delivery_json(delivery: Delivery) -> dict:
    return {
        "id": delivery.id,
        "alarm_id": delivery.alarm_id,
        "alarm_name": delivery.alarm_name,
        "alert_status": delivery.alert_status,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "response_text": delivery.response_text,
        "payload": delivery.payload,
        "created_at": _timestamp(delivery.created_at),
        "delivered_at": _timestamp(delivery.delivered_at) if delivery.delivered_at else None,
    }


@api_view("GET")
def deliveries(request: HttpRequest) -> JsonResponse:
    """The alarms' notifications, newest first (``?alarm=ID&limit=``): what was sent and what the receiver said."""
    refuse_bad_text(dict(request.GET.items()))
    limit = _int(request.GET.get("limit"), "limit", 100, low=1, high=MAX_LIMIT)
    found = Delivery.objects.all()
    if request.GET.get("alarm"):
        found = found.filter(alarm_id=request.GET["alarm"][:40])
    return JsonResponse({"results": [delivery_json(d) for d in found[:limit]]})
