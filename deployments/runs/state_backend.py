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
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
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
    """The run whose credential the request carries, if it may use the backend now (one narrow query: the
    run's status and credential hash, never its plan or params)."""
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
    run = (
        Run.objects.filter(pk=int(username[4:]), deployment_id=deployment_id)
        .only("pk", "deployment_id", "status", "state_credential")
        .first()
    )
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
        latest = (
            StateVersion.objects.filter(deployment_id=deployment_id)
            .order_by("-created_at", "-id")
            .values_list("encrypted_state", flat=True)
            .first()
        )
        if latest is None:
            return HttpResponse(status=204)
        return HttpResponse(decrypt(bytes(latest)), content_type="application/json")
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
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        # One query: the deployment locked (writes of its state go one at a time), the lock's id and the newest
        # state's digest beside it, and only what the resource index reads of the deployment.
        deployment = (
            Deployment.objects.select_for_update(of=("self",))
            .only("pk", "sensitive_params", "sensitive_outputs")
            .annotate(
                held_lock=Subquery(StateLock.objects.filter(deployment=OuterRef("pk")).values("lock_id")[:1]),
                latest_sha=Subquery(
                    StateVersion.objects.filter(deployment=OuterRef("pk"))
                    .order_by("-created_at", "-id")
                    .values("sha256")[:1]
                ),
            )
            .get(pk=run.deployment_id)
        )
        if deployment.held_lock is not None and deployment.held_lock != request.GET.get("ID", ""):
            info = StateLock.objects.filter(deployment=deployment).values_list("info", flat=True).first()
            return JsonResponse({"message": "The state is locked by another operation.", "lock": info}, status=409)
        if deployment.latest_sha != digest:
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
    if request.method == "LOCK":
        return _lock(deployment_id, run, info)
    if request.method == "UNLOCK":
        return _unlock(deployment_id, run, info)
    return JsonResponse({"message": f"{request.method} is not supported here."}, status=405)


def _lock(deployment_id, run: Run, info: dict) -> HttpResponse:
    """Take the lock with one INSERT (the one-lock-per-deployment constraint decides); read it only when held."""
    lock = None
    for _attempt in range(2):  # a lock released between the INSERT and the read: try once more
        try:
            with transaction.atomic():
                StateLock.objects.create(
                    deployment_id=deployment_id, lock_id=str(info.get("ID", "")), info=info, run=run
                )
            return HttpResponse(status=200)
        except IntegrityError:  # held already: by this very operation (a retry), or by another
            lock = StateLock.objects.filter(deployment_id=deployment_id).first()
        if lock is not None:
            break
    if lock is not None and lock.lock_id == info.get("ID"):
        return HttpResponse(status=200)
    body = _lock_body(lock).content if lock is not None else b"{}"
    return HttpResponse(body, status=423, content_type="application/json")


def _unlock(deployment_id, run: Run, info: dict) -> HttpResponse:
    """Release with one conditional DELETE (an empty body, what ``force-unlock`` sends, releases any lock: the
    caller has the run's credentials); read the lock only when it is someone else's."""
    held = StateLock.objects.filter(deployment_id=deployment_id)
    if info:
        held = held.filter(lock_id=info.get("ID"))
    if not held.delete()[0]:
        lock = StateLock.objects.filter(deployment_id=deployment_id).first()
        if lock is None:
            return HttpResponse(status=200)
        return HttpResponse(_lock_body(lock).content, status=409, content_type="application/json")
    if run.status == RunStatus.INTERRUPTED:
        Run.objects.filter(pk=run.pk).update(state_credential="")  # its engine is done
        # why: tasks imports the runner, which imports this module
        from .tasks import run_enqueue_next

        transaction.on_commit(lambda: run_enqueue_next(deployment_id=deployment_id))
    return HttpResponse(status=200)
