"""The OpenTofu/Terraform CLI wrapper: one supervised process group per command, streamed output,
cancel (SIGINT, then SIGKILL of the group) and a timeout enforced here, not by Celery; the engine
outlives a dead worker long enough to save its state (:mod:`.supervise`)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import queue
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from . import workdirs


def _term_with_parent() -> None:
    """In the child (the supervisor): ask Linux to send SIGTERM when the worker that started it dies.

    SIGTERM is catchable: the supervisor interrupts the engine, which saves its state and releases its
    lock, instead of dying with its worker (which loses what it created since its last state write).
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the supervisor notices its parent changed instead


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


def engine_user():
    """The unprivileged account the engine runs as (``SLIPWAY_ENGINE_USER``), when the worker is root and may
    switch to it; else None (the engine runs as the worker's own user)."""
    name = settings.SLIPWAY_ENGINE_USER
    if not name or os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise EngineNotFound(f"SLIPWAY_ENGINE_USER={name!r} is not a user on this host.") from None


def plugin_cache() -> tuple[Path, Path]:
    """This worker process's own plugin cache and CLI config: the engine documents a shared cache as unsafe
    for concurrent use, so each process has one, in its own folder (``workdirs.process_dir``; a starting
    worker removes those of processes that are gone)."""
    folder = workdirs.process_dir(Path(settings.SLIPWAY_WORKDIR))
    cache = folder / "plugin-cache"
    cache.mkdir(exist_ok=True)
    cache.chmod(0o755)  # the engine's user reads and runs what it holds (whatever the worker's umask)
    cli_config = folder / "slipway.tfrc"
    text = cli_config_text(cache)
    if not cli_config.is_file() or cli_config.read_text() != text:
        # Beside it, then renamed over it: a run starting meanwhile never reads half a file.
        partial = cli_config.with_name(f".{cli_config.name}.tmp")
        partial.write_text(text)
        partial.chmod(0o644)
        partial.replace(cli_config)
    return cache, cli_config


# What the engine inherits from the worker's environment: nothing else (no DATABASE_URL, SECRET_KEY,
# SLIPWAY_ENCRYPTION_KEY, broker URL). Cloud credentials pass by their providers' own prefixes.
ENGINE_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY")
ENGINE_ENV_PREFIXES = ("AWS_", "GOOGLE_", "ARM_", "SANDBOX_")


def engine_env(workdir: Path) -> dict[str, str]:
    """A minimal environment for the engine, with our own CLI config and this process's plugin cache."""
    cache, cli_config = plugin_cache()
    env = {k: v for k, v in os.environ.items() if k in ENGINE_ENV_KEEP or k.startswith(ENGINE_ENV_PREFIXES)}
    user = engine_user()
    # The engine's home is the run's own folder when it runs as its own user (it cannot write the worker's).
    env["HOME"] = str(workdir / ".slipway") if user else os.environ.get("HOME", str(workdir / ".slipway"))
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
        # Relative to the run's folder (the engine's cwd): what ``init`` records there (module folders) stays
        # true in a copy of it (workdirs.reuse_template).
        TF_DATA_DIR=".terraform",
    )
    if settings.SLIPWAY_STATE_PERSIST_SECONDS:
        # Intermediate state snapshots during a long apply (the engine's own default is every 20 s). Set only
        # when asked: with it set, Terraform 1.11 no longer lets a provider finish an interrupted create.
        env["TF_STATE_PERSIST_INTERVAL"] = str(settings.SLIPWAY_STATE_PERSIST_SECONDS)
    return env


def hand_over(workdir: Path) -> None:
    """Give the run's (or the check's) folder to the engine's user, when it has one, before each command (with
    ``.slipway/``, its home there). This process's plugin cache is never theirs: see :func:`installing`."""
    user = engine_user()
    if user is None:
        return
    (workdir / OUTPUT_DIR).mkdir(exist_ok=True)
    for path in (workdir, *workdir.rglob("*")):
        with contextlib.suppress(FileNotFoundError):
            os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)


def run_engine(binary: str, args: list[str] | tuple[str, ...], *, workdir: Path, env: dict[str, str], **kwargs):
    """One engine command in a run's (or a check's) folder: handed to the engine's user first, and an ``init``
    installing through a staging cache (:func:`installing`). ``kwargs`` go to :func:`run_command`."""
    with installing(workdir, env, installs=args[0] == "init") as command_env:
        hand_over(workdir)
        return run_command([binary, *args], cwd=workdir, env=command_env, **kwargs)


STAGING = "plugin-staging"


@contextlib.contextmanager
def installing(workdir: Path, env: dict[str, str], *, installs: bool) -> Iterator[dict[str, str]]:
    """The environment for one engine command in ``workdir``.

    With an engine user, the process's plugin cache stays the worker's, which that user can read and run but
    not change: plan and apply run a module's ``local-exec`` as that user, and the cache's providers serve
    the later runs of other deployments (and of another pool process, as the same user, while it runs). So
    ``init`` (``installs``) gets an empty staging cache of its own in the folder; what it installs there is then
    moved into the cache, sealed (a package the cache has already is kept, the new copy dropped), and the
    folder's links point at the cache. The cost: such an ``init`` installs each provider afresh (the filesystem
    mirror's are linked, not copied; a registry's are downloaded), where the engine would have taken the
    cache's copy for a module whose lock file pins it. ``init`` runs once per bundle version in a process.
    (Links to the cache's packages in the staging cache do not work: the engine writes into them.)"""
    if not installs or engine_user() is None:
        yield env
        return
    cache, _ = plugin_cache()
    staging = workdir / OUTPUT_DIR / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    try:
        yield {**env, "TF_PLUGIN_CACHE_DIR": str(staging)}
    finally:
        _adopt(workdir, staging, cache)


def _packages(root: Path) -> list[Path]:
    """The provider packages of a cache (unpacked layout: ``HOST/NAMESPACE/TYPE/VERSION/OS_ARCH``)."""
    return [path for path in root.glob("*/*/*/*/*") if not path.name.startswith(".")]


def _adopt(workdir: Path, staging: Path, cache: Path) -> None:
    """Move the packages ``init`` installed into ``staging`` into this process's cache (sealed), and point the
    folder's provider links (``.terraform/providers/...``) there; the staging cache goes."""
    mirror = Path(os.path.realpath(settings.SLIPWAY_PROVIDER_DIR))
    for package in _packages(staging):
        target = cache / package.relative_to(staging)
        if target.exists() or target.is_symlink():
            continue  # installed again: the cache's copy stays
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        if package.is_symlink():
            # From the filesystem mirror the engine links instead of copying. Only a link into the mirror (the
            # worker's) is kept: the cache never links to where the engine's user may write.
            pointed = Path(os.path.realpath(package))
            if not pointed.is_relative_to(mirror):
                continue
            partial.symlink_to(pointed)
        else:
            os.rename(package, partial)
            if partial.is_symlink():  # swapped for a link since: not what init installed
                partial.unlink()
                continue
            seal(partial)
        partial.rename(target)
        for parent in reversed(target.relative_to(cache).parents):
            seal(cache / parent, recurse=False)
    providers = workdir / ".terraform" / "providers"
    for root, dirs, files in os.walk(providers):
        for name in [*dirs, *files]:
            link = Path(root, name)
            if not link.is_symlink():
                continue
            pointed = Path(os.path.normpath(Path(root, os.readlink(link))))
            if pointed.is_relative_to(staging) and (cache / pointed.relative_to(staging)).exists():
                link.unlink()
                link.symlink_to(cache / pointed.relative_to(staging))
    shutil.rmtree(staging, ignore_errors=True)


def seal(top: Path, *, recurse: bool = True) -> None:
    """Make ``top`` (and what it holds) the worker's, readable and runnable by anyone, writable by none but
    the worker. Links are left as they are."""
    for path in (top, *(top.rglob("*") if recurse else ())):
        with contextlib.suppress(FileNotFoundError):
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or (not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1):
                continue  # a link, or a file linked from elsewhere too: never made readable here
            os.chown(path, os.geteuid(), os.getegid(), follow_symlinks=False)
            mode = stat.S_IMODE(info.st_mode)
            readable = 0o555 if path.is_dir() or mode & 0o100 else 0o444
            os.chmod(path, (mode & ~0o022) | readable, follow_symlinks=False)


def protect_environment() -> None:
    """Make this process non-dumpable: other processes of the same user (the engine, a provider, a
    ``local-exec`` command) can no longer read its ``/proc/<pid>/environ`` or memory. Root still can, which
    is why a root worker should run the engine as ``SLIPWAY_ENGINE_USER``."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(4, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass


@dataclass
class CommandResult:
    returncode: int
    cancelled: bool = False
    timed_out: bool = False


OUTPUT_DIR = ".slipway"


def _tail(path: Path, name: str, lines: queue.Queue, done: threading.Event) -> None:
    """Feed each complete line written to ``path`` to ``lines``; stop once ``done`` is set and all is read."""
    with open(path, encoding="utf-8", errors="replace") as stream:
        partial = ""
        pause = TAIL_PAUSE[0]
        while True:
            chunk = stream.readline()
            if chunk:
                pause = TAIL_PAUSE[0]
                partial += chunk
                if partial.endswith("\n"):
                    lines.put((name, partial.rstrip("\n")))
                    partial = ""
                continue
            if done.is_set():
                if partial:
                    lines.put((name, partial))
                break
            # Soon after output, look again soon (the next line, or the engine's exit, is often milliseconds
            # away); a quiet engine is looked at less often.
            time.sleep(pause)
            pause = min(pause * 2, TAIL_PAUSE[1])
    lines.put(None)


TAIL_PAUSE = (0.005, 0.05)  # seconds between looks at a quiet output file: first, at most


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
    pass_fds: tuple[int, ...] = (),
) -> CommandResult:
    """Run one engine command under its supervisor (:mod:`.supervise`), feeding each output line to ``on_line``.

    The supervisor runs in a session of its own and the engine in a process group of its own, so a
    worker killed (even its whole process group) does not take the engine down with it: the kernel
    sends the supervisor SIGTERM, the engine is interrupted and saves its state. The engine writes its
    output to files in ``cwd/.slipway/``, which are followed here.

    ``should_stop`` is polled; when it turns true (cancel) or ``timeout`` passes, the engine's group gets
    SIGINT so the engine can release its lock and save state, then SIGKILL after ``grace``.
    """
    grace = settings.SLIPWAY_CANCEL_GRACE_SECONDS if grace is None else grace
    out_dir = cwd / OUTPUT_DIR
    out_dir.mkdir(exist_ok=True)
    # Unique, in order: two commands may run at once in one folder (a plan's ``show -json`` beside its apply).
    number = f"{len(list(out_dir.glob('*.out'))):03d}-{secrets.token_hex(4)}"
    paths = {"stdout": out_dir / f"{number}.out", "stderr": out_dir / f"{number}.err"}
    with open(paths["stdout"], "wb") as stdout, open(paths["stderr"], "wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                SUPERVISOR,
                str(settings.SLIPWAY_ORPHAN_GRACE_SECONDS),
                user.pw_name if (user := engine_user()) else "",
                "--",
                *args,
            ],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # the worker's death (or its group's) does not reach the engine directly
            preexec_fn=_term_with_parent,
            # The work directory's lock (workdirs.claim) and the process folder's: held while the engine lives.
            pass_fds=(*pass_fds, *workdirs.process_lock_fds()),
        )
    lines: queue.Queue[tuple[str, str] | None] = queue.Queue()
    exited = threading.Event()
    readers = [
        threading.Thread(target=_tail, args=(path, name, lines, exited), daemon=True) for name, path in paths.items()
    ]
    for reader in readers:
        reader.start()

    def wake_on_exit() -> None:
        # The loop below waits up to ``poll`` for a line: without this, each command's end was noticed up to
        # ``poll`` late (0.5 s, after the engine's last line), four times a run.
        proc.wait()
        exited.set()
        lines.put(_WAKE)

    threading.Thread(target=wake_on_exit, daemon=True).start()

    deadline = time.monotonic() + timeout
    interrupted_at: float | None = None
    killed = False
    result = CommandResult(returncode=0)
    open_streams = 2
    while open_streams:
        item = False
        with contextlib.suppress(queue.Empty):
            item = lines.get(timeout=poll)
        if item is None:
            open_streams -= 1
        elif item and item is not _WAKE:
            on_line(*item)
        if proc.poll() is not None:
            exited.set()  # the readers finish what is written, then stop
            continue
        now = time.monotonic()
        if interrupted_at is None:
            if should_stop():
                result.cancelled = True
            elif now > deadline:
                result.timed_out = True
            if result.cancelled or result.timed_out:
                _signal(proc, signal.SIGINT)
                interrupted_at = now
        elif now - interrupted_at > grace and not killed:
            _signal(proc, signal.SIGUSR1)  # the supervisor kills the engine's group
            killed = True
    result.returncode = proc.wait()
    for path in paths.values():  # all read; the output may hold values (``show -json``) that must not stay on disk
        path.unlink(missing_ok=True)
    return result


SUPERVISOR = str(Path(__file__).with_name("supervise.py"))
_WAKE = ("", "")  # the engine exited: the loop stops waiting for a line and looks


def _signal(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        proc.send_signal(sig)


def parse_json_line(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
