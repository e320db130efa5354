"""Executes one run: claim it, prepare a fresh workdir, drive the engine, store what it produced.

``execute(run_id)`` owns the whole lifecycle: whatever happens, the run ends in a terminal or
waiting status with its error, never left ``running``.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import socket
import tempfile
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_event_record
from bundles.loader import extract_archive
from portal.crypto import KeyMismatch, decrypt, encrypt

from . import notifications
from .choices import RUN_EXECUTING, DeploymentStatus, LogStream, RunAction, RunStatus
from .engine import EngineNotFound, engine_binary, engine_env, parse_json_line, run_command
from .models import Deployment, Run, RunLogLine, StateLock, StateVersion
from .plans import redact, summarize
from .policy import needs_person, policy_for
from .secrets import merge as merge_sensitive
from .secrets import values as secret_values
from .services import run_enqueue_next
from .state_backend import credential_hash

log = logging.getLogger(__name__)
MASK = "(sensitive)"


class RunFailed(Exception):
    pass


class RunStopped(Exception):
    def __init__(self, status: str, message: str):
        self.status = status
        super().__init__(message)


# --- Redaction -----------------------------------------------------------------------------


class Redactor:
    """Replaces every known secret value with a mask before anything is stored."""

    def __init__(self, secrets: list[str] | None = None):
        self.secrets: list[str] = []
        for value in secrets or []:
            self.add(value)

    def add(self, value: Any) -> None:
        if isinstance(value, (dict, list)):
            for item in value.values() if isinstance(value, dict) else value:
                self.add(item)
            return
        text = str(value) if value is not None else ""
        # Very short values (a port, "true") would mask unrelated text and protect nothing.
        if len(text) >= 4 and text not in self.secrets:
            self.secrets.append(text)
            self.secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def obj(self, value: Any) -> Any:
        if not self.secrets:
            return value
        return json.loads(self.text(json.dumps(value)))


# --- Log writer ----------------------------------------------------------------------------


class LogWriter:
    """Buffers engine output into ordered RunLogLine rows and tracks progress."""

    FLUSH_EVERY = 0.5

    def __init__(self, run: Run, redactor: Redactor):
        self.run = run
        self.redactor = redactor
        self.seq = run.log_lines.order_by("-seq").values_list("seq", flat=True).first() or 0
        self.buffer: list[RunLogLine] = []
        self.last_flush = time.monotonic()
        self.planned_addresses: set[str] = set()
        self.done_addresses: set[str] = set()

    def system(self, text: str, level: str = "info") -> None:
        self._add(LogStream.SYSTEM, level, text, None)
        self.flush()

    def engine(self, stream: str, line: str) -> None:
        event = parse_json_line(line)
        if event is None:
            if line.strip():
                self._add(stream, "error" if stream == "stderr" else "info", line, None)
        else:
            self._track(event)
            self._add(stream, str(event.get("@level", "info")), str(event.get("@message", line)), event)
        if len(self.buffer) >= 100 or time.monotonic() - self.last_flush > self.FLUSH_EVERY:
            self.flush()

    def _track(self, event: dict) -> None:
        kind = event.get("type")
        address = ((event.get("hook") or event.get("change") or {}).get("resource") or {}).get("addr")
        if kind == "planned_change" and address and (event.get("change") or {}).get("action") != "noop":
            self.planned_addresses.add(address)
        elif kind == "apply_complete" and address:
            self.done_addresses.add(address)

    def _add(self, stream: str, level: str, text: str, event: dict | None) -> None:
        self.seq += 1
        self.buffer.append(
            RunLogLine(
                run=self.run,
                seq=self.seq,
                stream=stream,
                level=level[:10],
                text=self.redactor.text(text),
                event=self.redactor.obj(event) if event is not None else None,
            )
        )

    def flush(self) -> None:
        if self.buffer:
            RunLogLine.objects.bulk_create(self.buffer)
            self.buffer = []
        self.last_flush = time.monotonic()
        if self.done_addresses:
            Run.objects.filter(pk=self.run.pk).update(resources_done=len(self.done_addresses))


# --- Claiming ------------------------------------------------------------------------------


def claim(run_id: int) -> Run | None:
    """Take the run if it is queued, first in its deployment's line, and nothing else executes there.

    Returns None when another worker has it or it must wait; the run that finishes first kicks the
    next queued one, and the periodic requeue covers anything missed. A state lock left by a run
    that died also makes it wait, until ops force-unlock.
    """
    with transaction.atomic():
        run = Run.objects.filter(pk=run_id).select_related("deployment").first()
        if run is None or run.status != RunStatus.QUEUED:
            return None
        Deployment.objects.select_for_update().filter(pk=run.deployment_id).first()
        deployment_runs = Run.objects.filter(deployment_id=run.deployment_id)
        if deployment_runs.filter(status__in=RUN_EXECUTING).exists():
            return None
        if deployment_runs.filter(status=RunStatus.QUEUED, created_at__lt=run.created_at).exists():
            return None
        if StateLock.objects.filter(deployment_id=run.deployment_id).exists():
            return None
        try:
            with transaction.atomic():
                moved = run.transition(RunStatus.RUNNING, worker=socket.gethostname())
        except IntegrityError:  # another run of this deployment started in between
            return None
    return run if moved else None


# --- Execution -----------------------------------------------------------------------------


def execute(run_id: int) -> None:
    run = claim(run_id)
    if run is None:
        return
    try:
        _execute_claimed(run)
    except RunStopped as stop:
        _finish(run, stop.status, str(stop))
    except (RunFailed, EngineNotFound, KeyMismatch) as exc:  # one sentence each, no traceback
        _finish(run, RunStatus.FAILED, str(exc))
    except Exception as exc:  # never leave a run running
        log.exception("run %s crashed", run.pk)
        _finish(run, RunStatus.FAILED, f"Slipway error: {exc}\n\n{traceback.format_exc()}")
    finally:
        run_enqueue_next(deployment_id=run.deployment_id)


class Execution:
    """The state of one run while the engine works on it."""

    def __init__(self, run: Run, workdir: Path):
        self.run = run
        self.deployment = run.deployment
        self.version = run.bundle_version
        self.workdir = workdir
        self.params = merge_sensitive(run.params, run.sensitive_params)
        known = secret_values(run.sensitive_params) + secret_values(self.deployment.sensitive_outputs)
        self.redactor = Redactor(known)
        self.log = LogWriter(run, self.redactor)
        self.binary = engine_binary()
        self.env = engine_env(workdir)
        # A per-run state credential, handed to the engine only through its environment.
        password = secrets.token_urlsafe(32)
        Run.objects.filter(pk=run.pk).update(state_credential=credential_hash(password))
        self.env.update(TF_HTTP_USERNAME=f"run-{run.pk}", TF_HTTP_PASSWORD=password)
        self.timeout_at = time.monotonic() + settings.SLIPWAY_RUN_TIMEOUT.get(run.action, 3600)
        self.last_beat = 0.0

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_beat < 2:
            return False
        self.last_beat = now
        Run.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now())
        return Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists()

    def engine(self, *args: str) -> None:
        label = " ".join([Path(self.binary).name, *args])
        self.log.system(f"$ {label}")
        result = run_command(
            [self.binary, *args],
            cwd=self.workdir,
            env=self.env,
            on_line=self.log.engine,
            should_stop=self.should_stop,
            timeout=max(self.timeout_at - time.monotonic(), 1),
        )
        self.log.flush()
        if result.cancelled:
            raise RunStopped(RunStatus.CANCELLED, f"Cancelled while running `{label}`.")
        if result.timed_out:
            limit = settings.SLIPWAY_RUN_TIMEOUT.get(self.run.action)
            raise RunStopped(RunStatus.FAILED, f"Timed out after {limit} s while running `{label}`.")
        if result.returncode != 0:
            raise RunFailed(self._failure_message(label, result.returncode))

    def _failure_message(self, label: str, code: int) -> str:
        errors = list(self.run.log_lines.filter(level="error").order_by("seq").values_list("text", flat=True)[:20])
        text = "\n".join(errors)
        if "Saved plan is stale" in text:
            return "The deployment changed since this plan was made, so it cannot be applied. Plan again."
        if "Error acquiring the state lock" in text:
            return "The state is locked by another operation. " + (text or "See the log.")
        detail = text if errors else "See the log for details."
        return f"`{label}` failed (exit {code}).\n{detail}"

    def capture(self, *args: str) -> str:
        """Run a short engine command whose stdout we parse (show, output)."""
        chunks: list[str] = []
        result = run_command(
            [self.binary, *args],
            cwd=self.workdir,
            env=self.env,
            on_line=lambda stream, line: chunks.append(line) if stream == "stdout" else self.log.engine(stream, line),
            should_stop=self.should_stop,
            timeout=max(self.timeout_at - time.monotonic(), 1),
        )
        if result.cancelled:
            raise RunStopped(RunStatus.CANCELLED, "Cancelled.")
        if result.returncode != 0 or result.timed_out:
            raise RunFailed(f"`{Path(self.binary).name} {' '.join(args)}` failed (exit {result.returncode}).")
        return "\n".join(chunks)


def _execute_claimed(run: Run) -> None:
    base = Path(settings.SLIPWAY_WORKDIR)
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{run.pk}-", dir=base))
    try:
        ex = Execution(run, workdir)
        reviewed = bool(run.plan_file and run.apply_confirmed_by)
        what = "apply of the reviewed plan" if reviewed else run.action
        ex.log.system(f"Run #{run.pk}: {what} of {run.deployment} with {run.bundle_version}")
        _prepare_workdir(ex)
        ex.engine("init", "-input=false", "-no-color")
        if reviewed:
            (workdir / "plan.bin").write_bytes(decrypt(bytes(run.plan_file)))
            ex.log.system(f"Plan confirmed by {run.apply_confirmed_by}.")
            _apply(ex)
            return
        plan_args = ["plan", "-input=false", "-out=plan.bin", "-json"]
        if run.action == RunAction.DESTROY:
            plan_args.append("-destroy")
        ex.engine(*plan_args)
        raw_plan = json.loads(ex.capture("show", "-json", "plan.bin"))
        summary = ex.redactor.obj(summarize(raw_plan))
        Run.objects.filter(pk=run.pk).update(
            plan_summary=summary,
            plan_json=ex.redactor.obj(redact(raw_plan)),
            resources_planned=summary["total"],
        )
        run.plan_summary = summary
        ex.log.system(_summary_sentence(summary))
        if run.action == RunAction.PLAN:
            _finish(run, RunStatus.SUCCEEDED, "")
            return
        if not summary["has_changes"]:
            _store_outputs(ex, _state_outputs(ex))
            _finish(run, RunStatus.SUCCEEDED, "")
            return
        held = needs_person(environment=run.deployment.environment, summary=summary)
        risky = run.action == RunAction.APPLY and summary["risky"]
        if held or risky or not run.auto_apply:
            Run.objects.filter(pk=run.pk).update(plan_file=encrypt((workdir / "plan.bin").read_bytes()))
            if held:
                ex.log.system(f"The policy of {run.deployment.environment} needs ops to approve: {', '.join(held)}.")
                _finish(run, RunStatus.AWAITING_APPROVAL, "")
                return
            why = "it replaces or destroys resources" if risky else "a review was requested"
            ex.log.system(f"The plan waits for review before it is applied: {why}.")
            _finish(run, RunStatus.PLANNED, "")
            return
        _apply(ex)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _apply(ex: Execution) -> None:
    run = ex.run
    if not run.transition(RunStatus.APPLYING):
        raise RunStopped(RunStatus.CANCELLED, "The run was cancelled before apply.")
    ex.engine("apply", "-input=false", "-auto-approve", "-json", "plan.bin")
    if run.action == RunAction.DESTROY:
        _store_outputs(ex, {})
    else:
        _store_outputs(ex, _state_outputs(ex))
    Run.objects.filter(pk=run.pk).update(resources_done=run.plan_summary.get("total", 0), plan_file=None)
    _finish(run, RunStatus.SUCCEEDED, "")


BACKEND_FILE = "zz_slipway_backend.tf"


def _prepare_workdir(ex: Execution) -> None:
    extract_archive(bytes(ex.version.module_archive), ex.workdir)
    variables = dict(ex.params)
    if ex.version.takes_slipway_context:
        variables["slipway"] = slipway_context(ex.deployment)
    (ex.workdir / "terraform.tfvars.json").write_text(json.dumps(variables, indent=2))
    address = f"{settings.SLIPWAY_BASE_URL.rstrip('/')}/state/{ex.deployment.pk}/"
    (ex.workdir / BACKEND_FILE).write_text(
        "# Written by Slipway: the portal is the state backend.\n"
        "terraform {\n"
        '  backend "http" {\n'
        f'    address        = "{address}"\n'
        f'    lock_address   = "{address}lock/"\n'
        f'    unlock_address = "{address}lock/"\n'
        '    lock_method    = "LOCK"\n'
        '    unlock_method  = "UNLOCK"\n'
        "  }\n"
        "}\n"
    )


def slipway_context(deployment: Deployment) -> dict:
    env = deployment.environment
    project = env.project
    return {
        "deployment_id": str(deployment.pk),
        "name_prefix": deployment.name_prefix,
        "project": project.slug,
        "environment": env.slug,
        "tier": env.tier,
        "team": project.team.slug,
        "tags": {
            "slipway-deployment": str(deployment.pk),
            "project": project.slug,
            "environment": env.slug,
            "team": project.team.slug,
        },
    }


def _summary_sentence(summary: dict) -> str:
    if not summary["total"]:
        return "Plan: no changes to resources."
    return (
        f"Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['replace']} to replace, {summary['destroy']} to destroy."
    )


def _state_outputs(ex: Execution) -> dict:
    """The root module's outputs, read from the state the engine just wrote to us (no extra engine call)."""
    latest = StateVersion.objects.filter(deployment=ex.deployment).order_by("-created_at", "-id").first()
    if latest is None:
        return {}
    return json.loads(decrypt(bytes(latest.encrypted_state))).get("outputs") or {}


def _store_outputs(ex: Execution, raw: dict) -> None:
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for name, item in raw.items():
        if item.get("sensitive"):
            secret[name] = item.get("value")
        else:
            public[name] = item.get("value")
    ex.redactor.add(list(secret.values()))
    deployment = Deployment.objects.get(pk=ex.deployment.pk)
    deployment.outputs = ex.redactor.obj(public)
    deployment.sensitive_outputs = encrypt(json.dumps(secret).encode()) if secret else None
    deployment.save(update_fields=["outputs", "sensitive_outputs", "updated_at"])
    if secret:
        _scrub_logs(ex)


def _scrub_logs(ex: Execution) -> None:
    """Secrets first known after apply (generated passwords) are masked in lines already stored."""
    for line in RunLogLine.objects.filter(run=ex.run).only("id", "text", "event"):
        text, event = ex.redactor.text(line.text), ex.redactor.obj(line.event) if line.event else line.event
        if text != line.text or event != line.event:
            RunLogLine.objects.filter(pk=line.pk).update(text=text, event=event)


EVENT_FOR_STATUS = {
    RunStatus.PLANNED: "run.planned",
    RunStatus.AWAITING_APPROVAL: "run.awaiting_approval",
    RunStatus.FAILED: "run.failed",
    RunStatus.CANCELLED: "run.cancelled",
    RunStatus.INTERRUPTED: "run.interrupted",
}


def _finish(run: Run, status: str, error: str) -> None:
    """Put the run in its final (or waiting) status, expire its state credential, settle the deployment."""
    run.refresh_from_db(fields=["status", "cancel_requested"])
    if run.is_terminal:
        return
    if run.cancel_requested and status == RunStatus.FAILED:
        status = RunStatus.CANCELLED
    with transaction.atomic():
        if not run.transition(status, error=error[:20000], state_credential=""):
            return
        deployment = Deployment.objects.select_for_update().get(pk=run.deployment_id)
        if status != RunStatus.INTERRUPTED:
            # The engine has exited (we waited for it): a lock it still holds is stale.
            StateLock.objects.filter(deployment=deployment, run=run).delete()
        new_status = _deployment_status_after(run, deployment)
        if new_status and new_status != deployment.status:
            deployment.status = new_status
            deployment._change_reason = f"run #{run.pk} {run.action} {status}"
            deployment.save(update_fields=["status", "updated_at"])
        if status == RunStatus.SUCCEEDED:
            event = {RunAction.PLAN: "run.planned", RunAction.DESTROY: "run.destroyed"}.get(run.action, "run.applied")
        else:
            event = EVENT_FOR_STATUS.get(status, f"run.{status}")
        audit_event_record(
            event_type=event,
            actor=None,
            target=deployment,
            data={"run": run.pk, "action": run.action, "status": status, "error": error[:500]},
        )
        if status == RunStatus.AWAITING_APPROVAL:
            summary = run.plan_summary or {}
            notifications.notify(
                subject=f"Run #{run.pk} of {deployment} awaits approval",
                body=(
                    f"{run.requested_by_name} asked to {run.action} {deployment}. The plan needs ops to approve: "
                    f"{summary.get('add', 0)} to add, {summary.get('change', 0)} to change, "
                    f"{summary.get('replace', 0)} to replace, {summary.get('destroy', 0)} to destroy."
                ),
                path=run.get_absolute_url(),
                recipients=notifications.ops_emails(),
                webhook_url=policy_for(deployment.environment).webhook_url,
                event="run.awaiting_approval",
            )


def _deployment_status_after(run: Run, deployment: Deployment) -> str | None:
    applied_before = deployment.runs.filter(status=RunStatus.SUCCEEDED, action=RunAction.APPLY).exists()
    if run.status == RunStatus.SUCCEEDED:
        return {RunAction.APPLY: DeploymentStatus.LIVE, RunAction.DESTROY: DeploymentStatus.DESTROYED}.get(run.action)
    if run.status in (RunStatus.FAILED, RunStatus.INTERRUPTED) and run.action != RunAction.PLAN:
        return DeploymentStatus.FAILED
    if run.status in (RunStatus.CANCELLED, RunStatus.PLANNED, RunStatus.AWAITING_APPROVAL) and deployment.status in (
        DeploymentStatus.DEPLOYING,
        DeploymentStatus.DESTROYING,
    ):
        return DeploymentStatus.LIVE if applied_before else DeploymentStatus.DRAFT
    return None


def reap_interrupted(*, stale_after: float) -> list[Run]:
    """Mark executing runs whose worker stopped sending heartbeats as interrupted; report held locks."""
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    reaped = []
    for run in Run.objects.filter(status__in=RUN_EXECUTING, heartbeat_at__lt=cutoff).select_related("deployment"):
        lock = StateLock.objects.filter(deployment_id=run.deployment_id).first()
        message = (
            f"The worker running this ({run.worker or 'unknown'}) stopped responding; last heartbeat at "
            f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC."
        )
        if lock is not None:
            message += (
                f" The state lock {lock.lock_id} it held is still in place: check the resources, then an ops "
                "admin can force-unlock it from the deployment page before the next run."
            )
        _finish(run, RunStatus.INTERRUPTED, message)
        reaped.append(run)
    return reaped
