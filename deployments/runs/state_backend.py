"""Slipway as the engine's HTTP state backend.

The engine talks to ``/state/<deployment>/`` (GET, POST) and ``/state/<deployment>/lock/``
(LOCK, UNLOCK) with HTTP basic auth: user ``run-<id>``, password a secret made for that run
and passed only through ``TF_HTTP_PASSWORD``. The credential works only while its run executes,
or, once its worker died (the run is interrupted), while that run's engine still holds the lock:
it saves what it did, then unlocks.
Each state the engine writes becomes a new encrypted StateVersion; nothing is overwritten. The
``state_written`` signal tells whoever keeps an index of it (the estate's resource index).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from portal.crypto import decrypt, encrypt

from ..choices import RUN_EXECUTING, RunStatus
from ..models import Deployment, Run, StateLock, StateVersion
from .signals import state_written


def credential_hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _unauthorized(message: str) -> HttpResponse:
    response = JsonResponse({"message": message}, status=401)
    response["WWW-Authenticate"] = 'Basic realm="slipway-state"'
    return response


def _authenticate(request: HttpRequest, deployment_id) -> Run | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        username, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not username.startswith("run-") or not username[4:].isdigit() or not password:
        return None
    run = Run.objects.filter(pk=int(username[4:]), deployment_id=deployment_id).first()
    if run is None or not run.state_credential:
        return None
    if run.status not in RUN_EXECUTING and not (
        # The worker died, but its engine is still saving what it did and releasing its lock.
        run.status == RunStatus.INTERRUPTED and StateLock.objects.filter(deployment_id=deployment_id, run=run).exists()
    ):
        return None
    if not hmac.compare_digest(run.state_credential, credential_hash(password)):
        return None
    return run


def _lock_body(lock: StateLock) -> JsonResponse:
    return JsonResponse(lock.info or {"ID": lock.lock_id})


@csrf_exempt
def state(request: HttpRequest, deployment_id) -> HttpResponse:
    run = _authenticate(request, deployment_id)
    if run is None:
        return _unauthorized("Invalid or expired state credentials.")
    if request.method == "GET":
        latest = StateVersion.objects.filter(deployment_id=deployment_id).order_by("-created_at", "-id").first()
        if latest is None:
            return HttpResponse(status=204)
        return HttpResponse(decrypt(bytes(latest.encrypted_state)), content_type="application/json")
    if request.method == "POST":
        return _write_state(request, run)
    return JsonResponse({"message": f"{request.method} is not supported here."}, status=405)


def _read_state_body(request: HttpRequest) -> bytes | None:
    """The request body up to the backend's own limit (``SLIPWAY_STATE_MAX_BYTES``), or None when larger.

    Read from the stream, not ``request.body``: Django caps that at ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    (2.5 MiB), a limit for form posts that a real estate's state outgrows.
    """
    limit = settings.SLIPWAY_STATE_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _write_state(request: HttpRequest, run: Run) -> HttpResponse:
    body = _read_state_body(request)
    if body is None:
        limit = settings.SLIPWAY_STATE_MAX_BYTES
        return JsonResponse(
            {"message": f"State too large: the limit is {limit} bytes (SLIPWAY_STATE_MAX_BYTES)."}, status=413
        )
    try:
        parsed = json.loads(body)
    except ValueError:
        return JsonResponse({"message": "State must be JSON."}, status=400)
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=run.deployment_id)
        lock = StateLock.objects.filter(deployment=deployment).first()
        lock_id = request.GET.get("ID", "")
        if lock is not None and lock.lock_id != lock_id:
            return JsonResponse({"message": "The state is locked by another operation.", "lock": lock.info}, status=409)
        digest = hashlib.sha256(body).hexdigest()
        latest = deployment.state_versions.order_by("-created_at", "-id").first()
        if latest is None or latest.sha256 != digest:
            version = StateVersion.objects.create(
                deployment=deployment,
                serial=int(parsed.get("serial", 0)),
                lineage=str(parsed.get("lineage", "")),
                sha256=digest,
                encrypted_state=encrypt(body),
                created_by_run=run,
            )
            state_written.send(sender=StateVersion, deployment=deployment, state=parsed, state_version=version)
    return HttpResponse(status=200)


@csrf_exempt
def state_lock(request: HttpRequest, deployment_id) -> HttpResponse:
    run = _authenticate(request, deployment_id)
    if run is None:
        return _unauthorized("Invalid or expired state credentials.")
    try:
        info = json.loads(request.body) if request.body.strip() else {}
    except ValueError:
        return JsonResponse({"message": "Lock info must be JSON."}, status=400)
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
        lock = StateLock.objects.filter(deployment=deployment).first()
        if request.method == "LOCK":
            if lock is not None:
                if lock.lock_id == info.get("ID"):
                    return HttpResponse(status=200)
                return HttpResponse(_lock_body(lock).content, status=423, content_type="application/json")
            StateLock.objects.create(deployment=deployment, lock_id=str(info.get("ID", "")), info=info, run=run)
            return HttpResponse(status=200)
        if request.method == "UNLOCK":
            if lock is None:
                return HttpResponse(status=200)
            # An empty body is what `force-unlock` sends: the caller has the run's credentials.
            if not info or info.get("ID") == lock.lock_id:
                lock.delete()
                if run.status == RunStatus.INTERRUPTED:
                    Run.objects.filter(pk=run.pk).update(state_credential="")  # its engine is done
                    # why: tasks imports the runner, which imports this module
                    from .tasks import run_enqueue_next

                    transaction.on_commit(lambda: run_enqueue_next(deployment_id=deployment.pk))
                return HttpResponse(status=200)
            return HttpResponse(_lock_body(lock).content, status=409, content_type="application/json")
    return JsonResponse({"message": f"{request.method} is not supported here."}, status=405)
