"""The OpenTofu/Terraform CLI wrapper: one process group per command, streamed output,
cancel (SIGINT, then SIGKILL of the group) and a timeout enforced here, not by Celery."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGKILL the engine if the worker that started it dies.

    A worker killed mid-apply must not leave an engine running unsupervised: the lock it holds
    stays in place (the reaper reports it) and nothing changes behind the run's back.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the engine outlives a dead worker, as it would anywhere else


class EngineNotFound(RuntimeError):
    pass


def engine_binary() -> str:
    """The engine: ``SLIPWAY_TOFU_BINARY``, else ``tofu``, else ``terraform`` on PATH."""
    configured = settings.SLIPWAY_TOFU_BINARY
    if configured:
        resolved = shutil.which(configured) or (configured if Path(configured).is_file() else None)
        if resolved:
            return resolved
        raise EngineNotFound(f"SLIPWAY_TOFU_BINARY={configured!r} is not an executable.")
    for name in ("tofu", "terraform"):
        found = shutil.which(name)
        if found:
            return found
    raise EngineNotFound("No engine found: install OpenTofu (tofu) or set SLIPWAY_TOFU_BINARY.")


# Providers under this host come from Slipway's provider folder, never from a registry (the
# sandbox cloud's provider is slipway.local/slipway/sandbox).
LOCAL_PROVIDERS = "slipway.local/*/*"


def cli_config_text(cache: Path) -> str:
    """Our CLI config: the plugin cache, and providers under slipway.local from the filesystem mirror
    in SLIPWAY_PROVIDER_DIR (the unpacked layout HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/); all others as usual."""
    return (
        f"plugin_cache_dir = {json.dumps(str(cache))}\n"
        "disable_checkpoint = true\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(settings.SLIPWAY_PROVIDER_DIR))}\n"
        f'    include = ["{LOCAL_PROVIDERS}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{LOCAL_PROVIDERS}"]\n'
        "  }\n"
        "}\n"
    )


def sandbox_env() -> dict[str, str]:
    """Where the sandbox cloud's provider finds its API, and its credential (as AWS_* are for AWS)."""
    if not settings.SLIPWAY_SANDBOX_ENABLED:
        return {}
    endpoint = settings.SLIPWAY_SANDBOX_ENDPOINT or f"{settings.SLIPWAY_BASE_URL.rstrip('/')}/sandbox/api/v1/"
    return {"SANDBOX_ENDPOINT": endpoint, "SANDBOX_TOKEN": settings.SLIPWAY_SANDBOX_TOKEN}


def engine_env(workdir: Path) -> dict[str, str]:
    """A clean environment for the engine, with our own CLI config and a shared plugin cache."""
    base = Path(settings.SLIPWAY_WORKDIR)
    cache = base / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    cli_config = base / "slipway.tfrc"
    text = cli_config_text(cache)
    if not cli_config.is_file() or cli_config.read_text() != text:
        # Beside it, then renamed over it: a run starting meanwhile never reads half a file.
        partial = cli_config.with_name(f".{cli_config.name}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(cli_config)
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "HTTPS_PROXY", "HTTP_PROXY")
    prefixes = ("AWS_", "GOOGLE_", "ARM_", "SANDBOX_")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith(prefixes)}
    for key, value in sandbox_env().items():
        env.setdefault(key, value)  # set in the worker's environment, they win
    # The state backend is Slipway itself: never send its credentials through a proxy.
    env["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
    env.update(
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_PLUGIN_CACHE_DIR=str(cache),
        TF_DATA_DIR=str(workdir / ".terraform"),
    )
    return env


@dataclass
class CommandResult:
    returncode: int
    cancelled: bool = False
    timed_out: bool = False


def run_command(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    on_line: Callable[[str, str], None],
    should_stop: Callable[[], bool],
    timeout: float,
    grace: float | None = None,
    poll: float = 0.5,
) -> CommandResult:
    """Run one engine command in its own process group, feeding each output line to ``on_line``.

    ``should_stop`` is polled; when it turns true (cancel) or ``timeout`` passes, the group gets
    SIGINT so the engine can release its lock and save state, then SIGKILL after ``grace``.
    """
    grace = settings.SLIPWAY_CANCEL_GRACE_SECONDS if grace is None else grace
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # own process group: signals reach the engine and its plugins
        preexec_fn=_die_with_parent,
        text=True,
        bufsize=1,
    )
    lines: queue.Queue[tuple[str, str] | None] = queue.Queue()

    def pump(stream, name):
        for line in stream:
            lines.put((name, line.rstrip("\n")))
        lines.put(None)

    readers = [
        threading.Thread(target=pump, args=(s, n), daemon=True)
        for s, n in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
    ]
    for reader in readers:
        reader.start()

    deadline = time.monotonic() + timeout
    interrupted_at: float | None = None
    result = CommandResult(returncode=0)
    open_streams = 2
    exited_at: float | None = None
    while open_streams or proc.poll() is None:
        item = False
        if open_streams:
            with contextlib.suppress(queue.Empty):
                item = lines.get(timeout=poll)
        else:
            # Output is over: wait on the process itself, which returns the moment it exits
            # (waiting on the empty queue would add up to ``poll`` seconds to every command).
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=poll)
        if item is None:
            open_streams -= 1
        elif item:
            on_line(*item)
        now = time.monotonic()
        if interrupted_at is None:
            if should_stop():
                result.cancelled = True
            elif now > deadline:
                result.timed_out = True
            if result.cancelled or result.timed_out:
                _signal_group(proc, signal.SIGINT)
                interrupted_at = now
        elif now - interrupted_at > grace and proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
        if open_streams == 0 and proc.poll() is not None:
            break
        if proc.poll() is not None:
            # The engine exited but a child still holds the pipes open: end the group.
            exited_at = exited_at or now
            if now - exited_at > 5:
                _signal_group(proc, signal.SIGKILL)
    proc.wait()
    # Whatever the engine started (provider plugins) goes with it.
    _signal_group(proc, signal.SIGKILL)
    result.returncode = proc.returncode
    return result


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def parse_json_line(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
