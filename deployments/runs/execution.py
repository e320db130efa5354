"""One run while the engine works on it: its :class:`Execution` state, the :class:`Engine` it drives,
and what keeps secrets out of everything stored (:class:`Redactor`, :class:`LogWriter`).

The engine is a transport behind one small interface (``run`` a command, ``capture`` a command's
output), so the pipeline's steps never start a process themselves: the real engine is
:class:`EngineProcess`; tests drive the same steps with a fake one.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone

from ..choices import LogStream, RunStatus
from ..models import Run, RunLogLine
from ..secrets import merge as merge_sensitive
from ..secrets import values as secret_values
from .engine import engine_binary, engine_env, parse_json_line, run_engine
from .state_backend import credential_hash
from .workdirs import ERRORED_STATE, META_DIR, store_errored_state

MASK = "(sensitive)"
# How often a running engine is asked whether the run was cancelled (one indexed read).
CANCEL_POLL_SECONDS = 2


class RunFailed(Exception):
    """The engine failed: the run ends failed with this message."""


class RunStopped(Exception):
    """The run ends here with ``status`` (cancelled, a timeout, or a step that ends it on purpose)."""

    def __init__(self, status: str, message: str = ""):
        self.status = status
        super().__init__(message)


# --- Redaction and the log ---------------------------------------------------------------------


class Redactor:
    """Replaces every known secret value with a mask before anything is stored.

    A secret is looked for as it is and as JSON writes it inside a string (quotes, backslashes and
    non-ASCII escaped, the way the engine's ``-json`` lines carry it). Structures are redacted value by
    value (keys too), so a secret with a quote in it, or a sensitive number, is masked as well.
    """

    def __init__(self, secrets: list[str] | None = None):
        self.secrets: list[str] = []
        self.scalars: set[str] = set()
        for value in secrets or []:
            self.add(value)

    def add(self, value: Any) -> None:
        if isinstance(value, (dict, list)):
            for item in value.values() if isinstance(value, dict) else value:
                self.add(item)
            return
        if value is None or isinstance(value, bool):
            return
        text = str(value)
        # Very short values (a port, "true") would mask unrelated text and protect nothing.
        if len(text) < 4:
            return
        if not isinstance(value, str):
            self.scalars.add(json.dumps(value))
        forms = {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
        for form in forms - set(self.secrets):
            self.secrets.append(form)
        self.secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def obj(self, value: Any) -> Any:
        if not self.secrets and not self.scalars:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {(self.text(k) if isinstance(k, str) else k): self.obj(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.obj(item) for item in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and json.dumps(value) in self.scalars:
            return MASK
        return value


def _planned(event: dict) -> tuple[str, str]:
    change = event.get("change") or {}
    return (str((change.get("resource") or {}).get("addr")), str(change.get("action")))


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
        # Each (resource, deposed object, action) the plan's stream announced: a resource with a deposed copy is
        # announced twice (its copy deleted, itself updated), in either order; both count.
        self.plan_actions: set[tuple[str, str, str]] = set()
        self.plan_counts: dict | None = None  # the stream's own "Plan: ..." counts (its change_summary)
        self.drift_seen = False  # the plan's refresh found resources changed outside
        # The plan's ``show -json`` may run beside the apply (steps._plan): its stderr lines come from its thread.
        self.lock = threading.RLock()
        # Each planned change is logged once: applying a saved plan announces it again (after a review, in
        # another execution), which read as a second plan.
        self.announced = {
            _planned(event)
            for event in run.log_lines.filter(event__type="planned_change").values_list("event", flat=True)
        }

    def system(self, text: str, level: str = "info") -> None:
        with self.lock:
            self._add(LogStream.SYSTEM, level, text, None)
            self.flush()

    def engine(self, stream: str, line: str) -> None:
        with self.lock:
            self._engine(stream, line)

    def _engine(self, stream: str, line: str) -> None:
        event = parse_json_line(line)
        if event is None:
            if line.strip():
                self._add(stream, "error" if stream == "stderr" else "info", line, None)
        else:
            self._track(event)
            if event.get("type") == "planned_change":
                if _planned(event) in self.announced:
                    return
                self.announced.add(_planned(event))
            # The engine's own "Plan: 1 to add, 0 to change, 0 to destroy." is followed by the run's sentence,
            # which also counts replacements (steps.summary_sentence): one plan line, not two.
            if event.get("type") == "change_summary" and (event.get("changes") or {}).get("operation") == "plan":
                return
            self._add(stream, str(event.get("@level", "info")), str(event.get("@message", line)), event)
        if len(self.buffer) >= 100 or time.monotonic() - self.last_flush > self.FLUSH_EVERY:
            self.flush()

    def _track(self, event: dict) -> None:
        kind = event.get("type")
        address = ((event.get("hook") or event.get("change") or {}).get("resource") or {}).get("addr")
        if kind == "planned_change" and address:
            change = event.get("change") or {}
            self.plan_actions.add((address, str(change.get("deposed") or ""), str(change.get("action"))))
        elif kind == "change_summary" and (event.get("changes") or {}).get("operation") == "plan":
            self.plan_counts = dict(event["changes"])
        if kind == "planned_change" and address and (event.get("change") or {}).get("action") != "noop":
            self.planned_addresses.add(address)
        elif kind == "resource_drift":
            self.drift_seen = True
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
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        if self.buffer:
            RunLogLine.objects.bulk_create(self.buffer)
            self.buffer = []
        self.last_flush = time.monotonic()
        if self.done_addresses:
            Run.objects.filter(pk=self.run.pk).update(resources_done=len(self.done_addresses))


# --- The engine ----------------------------------------------------------------------------------


class Engine(Protocol):
    """What the pipeline asks of an engine."""

    def run(self, *args: str) -> None:
        """Run a command, its output going to the run's log; raise RunFailed or RunStopped when it does not succeed."""

    def capture(self, *args: str) -> str:
        """Run a short command and return its stdout (``show -json``, ``output -json``)."""


class EngineProcess:
    """The real engine binary, one process group per command, for one execution."""

    # Two commands may run at once in the run's folder (``show -json`` of the saved plan beside its apply).
    concurrent = True

    def __init__(self, ex: Execution):
        self.ex = ex
        self.binary = engine_binary()
        self.env = engine_env(ex.workdir)
        # A per-run state credential, handed to the engine only through its environment.
        password = secrets.token_urlsafe(32)
        Run.objects.filter(pk=ex.run.pk).update(state_credential=credential_hash(password))
        # Where the state is: the backend block is the same for every deployment (steps.BACKEND_BLOCK).
        address = f"{settings.SLIPWAY_BASE_URL.rstrip('/')}/state/{ex.deployment.pk}/"
        self.env.update(
            TF_HTTP_ADDRESS=address,
            TF_HTTP_LOCK_ADDRESS=f"{address}lock/",
            TF_HTTP_UNLOCK_ADDRESS=f"{address}lock/",
            TF_HTTP_USERNAME=f"run-{ex.run.pk}",
            TF_HTTP_PASSWORD=password,
        )
        self.cli_config = Path(self.env["TF_CLI_CONFIG_FILE"]).read_text()  # what ``init`` depends on, with binary

    def _command(self, args, on_line):
        return run_engine(
            self.binary,
            args,
            workdir=self.ex.workdir,
            env=self.env,
            on_line=on_line,
            should_stop=self.ex.should_stop,
            timeout=max(self.ex.timeout_at - time.monotonic(), 1),
            pass_fds=() if self.ex.lock_fd is None else (self.ex.lock_fd,),
        )

    def run(self, *args: str) -> None:
        label = " ".join([Path(self.binary).name, *args])
        self.ex.log.system(f"$ {label}")
        result = self._command(args, self.ex.log.engine)
        self.ex.log.flush()
        self._recover_state()
        if result.cancelled:
            raise RunStopped(RunStatus.CANCELLED, f"Cancelled while running `{label}`.")
        if result.timed_out:
            limit = settings.SLIPWAY_RUN_TIMEOUT.get(self.ex.run.action)
            raise RunStopped(RunStatus.FAILED, f"Timed out after {limit} s while running `{label}`.")
        if result.returncode != 0:
            raise RunFailed(self._failure_message(label, result.returncode))

    def _recover_state(self) -> None:
        """The engine could not write its state to us and left it in ``errored.tfstate``: store it as a state
        version (nothing it created is forgotten), say so in the log, and keep the file out of the next command."""
        version = store_errored_state(self.ex.workdir, run_id=self.ex.run.pk, deployment_id=self.ex.deployment.pk)
        if version is None:
            return
        (self.ex.workdir / ERRORED_STATE).rename(self.ex.workdir / META_DIR / f"{ERRORED_STATE}.{version.pk}")
        self.ex.log.system(
            f"The engine could not save its state to Slipway and wrote it to {ERRORED_STATE}; "
            f"it is stored as state version {version.pk} (serial {version.serial}).",
            level="warn",
        )

    def _failure_message(self, label: str, code: int) -> str:
        errors = list(self.ex.run.log_lines.filter(level="error").order_by("seq").values_list("text", flat=True)[:20])
        text = "\n".join(errors)
        if "Saved plan is stale" in text:
            return "The deployment changed since this plan was made, so it cannot be applied. Plan again."
        if "Error acquiring the state lock" in text:
            return "The state is locked by another operation. " + (text or "See the log.")
        detail = text if errors else "See the log for details."
        return f"`{label}` failed (exit {code}).\n{detail}"

    def capture(self, *args: str) -> str:
        chunks: list[str] = []

        def on_line(stream: str, line: str) -> None:
            chunks.append(line) if stream == "stdout" else self.ex.log.engine(stream, line)

        result = self._command(args, on_line)
        if result.cancelled:
            raise RunStopped(RunStatus.CANCELLED, "Cancelled.")
        if result.returncode != 0 or result.timed_out:
            raise RunFailed(f"`{Path(self.binary).name} {' '.join(args)}` failed (exit {result.returncode}).")
        return "\n".join(chunks)


# --- The execution -------------------------------------------------------------------------------


class Execution:
    """The state of one run while the pipeline works on it: what the steps read and fill in."""

    def __init__(self, run: Run, workdir: Path, engine_factory=EngineProcess, lock_fd: int | None = None):
        self.run = run
        self.lock_fd = lock_fd  # the work directory's lock, passed on to the engine's supervisor
        self.deployment = run.deployment
        self.version = run.bundle_version
        self.workdir = workdir
        self.params = merge_sensitive(run.params, run.sensitive_params)
        known = secret_values(run.sensitive_params) + secret_values(self.deployment.sensitive_outputs)
        self.redactor = Redactor(known)
        self.log = LogWriter(run, self.redactor)
        self.timeout_at = time.monotonic() + settings.SLIPWAY_RUN_TIMEOUT.get(run.action, 3600)
        self.reviewed = bool(run.plan_file and run.apply_confirmed_by)  # a plan someone confirmed: apply it
        self.variables: dict[str, Any] = {}  # the engine's inputs, gathered by the ``inputs`` stage
        self.summary: dict[str, Any] = {}  # the plan, in numbers and words (``plan`` stage)
        self.holds: list = []  # reasons the plan may not apply by itself (``gate`` stage)
        self.output_values: dict[str, Any] = {}  # every output after apply, sensitive ones in clear (memory only)
        self.applying = False  # the engine has started changing resources
        self.pending_review = None  # (thread, result) of a plan's review read beside its apply (steps._plan)
        self._last_poll = self._last_beat = 0.0
        self.engine: Engine = engine_factory(self)

    def should_stop(self) -> bool:
        """Polled while the engine runs: send the heartbeat when due, and say whether the run was cancelled."""
        now = time.monotonic()
        if now - self._last_beat >= settings.SLIPWAY_HEARTBEAT_SECONDS:
            self._last_beat = now
            Run.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now())
        if now - self._last_poll < CANCEL_POLL_SECONDS:
            return False
        self._last_poll = now
        return Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists()
