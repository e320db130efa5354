"""A run's (or a drift check's) work directory on the worker's disk: made, claimed, recovered from and removed.

Each run works in ``SLIPWAY_WORKDIR/run-<id>-<random>/``. While the run (or the engine a dead
worker left behind) uses it, ``.slipway/lock`` is held with ``flock``: the worker holds it, and the
engine's supervisor inherits it, so it stays held as long as an engine works there. A directory
whose lock nobody holds belongs to a run that is over: its worker died before it could clean up.

Nothing found there is lost: an ``errored.tfstate`` (the engine could not write its state to
Slipway) is stored as a new state version of the deployment before the directory goes. Plaintext
inputs (``terraform.tfvars.json``) are removed as soon as the engine no longer needs them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
import uuid
from pathlib import Path

from django.db import transaction

from portal.crypto import encrypt
from portal.events import record_event

from ..models import Deployment, Run, StateVersion
from .signals import state_written

log = logging.getLogger(__name__)

META_DIR = ".slipway"
ERRORED_STATE = "errored.tfstate"
# A directory this young without a lock file may be one a worker is just setting up.
YOUNG_SECONDS = 60


def claim(workdir: Path, run: Run) -> int:
    """Hold the directory's lock for ``run``; returns the lock's descriptor (the engine's supervisor inherits it)."""
    meta = workdir / META_DIR
    meta.mkdir(exist_ok=True)
    (meta / "run.json").write_text(json.dumps({"run": run.pk, "deployment": str(run.deployment_id)}))
    return hold(workdir)


def hold(workdir: Path) -> int:
    """Hold the directory's lock (a run's, or a drift check's: ``drift-<id>-<random>/``, which holds the
    deployment's decrypted state while it works); returns the lock's descriptor."""
    meta = workdir / META_DIR
    meta.mkdir(exist_ok=True)
    fd = os.open(meta / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def store_errored_state(workdir: Path, *, run_id: int | None, deployment_id) -> StateVersion | None:
    """Store ``errored.tfstate`` (the state the engine could not send us) as the deployment's newest version."""
    path = workdir / ERRORED_STATE
    if not path.is_file():
        return None
    body = path.read_bytes()
    try:
        parsed = json.loads(body)
    except ValueError:
        log.error("unreadable %s in %s kept on disk", ERRORED_STATE, workdir)
        raise
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
        latest = deployment.state_versions.order_by("-created_at", "-id").first()
        if latest is not None and latest.sha256 == digest:
            return latest
        version = StateVersion.objects.create(
            deployment=deployment,
            serial=int(parsed.get("serial", 0)),
            lineage=str(parsed.get("lineage", "")),
            sha256=digest,
            encrypted_state=encrypt(body),
            created_by_run_id=run_id,
        )
        record_event(
            event_type="state.recovered",
            actor=None,
            target=deployment,
            data={"run": run_id, "state_version": version.pk, "serial": version.serial, "file": ERRORED_STATE},
        )
        state_written.send(sender=StateVersion, deployment=deployment, state=parsed, state_version=version)
    return version


def _meta(workdir: Path) -> dict:
    with contextlib.suppress(OSError, ValueError):
        return json.loads((workdir / META_DIR / "run.json").read_text())
    return {}


def _in_use(workdir: Path) -> bool:
    lock = workdir / META_DIR / "lock"
    if not lock.exists():
        return time.time() - workdir.stat().st_mtime < YOUNG_SECONDS
    return _held(lock)


def _held(lock: Path) -> bool:
    """Whether some process holds ``lock`` (``flock``); raises OSError when it cannot be opened."""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- A worker process's own folder -----------------------------------------------------------------
#
# What belongs to one worker process (its plugin cache and CLI config, its initialised templates) lives in
# ``SLIPWAY_WORKDIR/worker-<host>-<pid>-<random>/``. A process id alone does not name a process when several
# hosts or containers share the folder (``docker compose up --scale worker=3`` mounts one volume in each,
# and each container numbers its processes from 1): two processes would share one plugin cache, and a
# starting worker would remove another container's cache as "gone" because no such pid lived beside it.
# So the folder's name is unique, and whether its process lives is told by its lock, held with ``flock`` for
# the process's lifetime (released by the kernel when the process ends, however it ends), as a run's folder
# is told by its own lock.

PROCESS_PREFIX = "worker-"
_process: tuple[int, Path, int] | None = None  # (pid, folder, descriptor holding its lock)


def process_dir(base: Path) -> Path:
    """This process's own folder under ``base``, made and locked on first use (in each forked child too)."""
    global _process
    pid = os.getpid()
    if _process is not None:
        owner, folder, fd = _process
        if owner == pid and folder.parent == base and folder.is_dir():
            return folder
        # A parent's (inherited by fork) or an earlier base's: closing our copy leaves a parent's lock held.
        os.close(fd)
        _process = None
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", socket.gethostname())[:40] or "host"
    name = f"{PROCESS_PREFIX}{host}-{pid}-{uuid.uuid4().hex[:8]}"
    # Locked before it has its name: a cleaner never sees this folder unlocked while the process lives.
    partial = base / f".{name}"
    partial.mkdir(parents=True)
    partial.chmod(0o711)  # the engine's user reaches its CLI config and the plugin cache, and lists nothing
    fd = os.open(partial / "lock", os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by the engine (O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    folder = partial.rename(base / name)
    _process = (pid, folder, fd)
    return folder


def process_lock_fds() -> tuple[int, ...]:
    """The descriptor that holds this process's folder lock, for an engine's supervisor to hold as well: a
    worker that dies leaves its engine running (it saves its state first), and the plugin cache it runs its
    providers from must stay until it ends."""
    if _process is not None and _process[0] == os.getpid():
        return (_process[2],)
    return ()


def _process_gone(folder: Path) -> bool:
    """Whether the process that owned ``folder`` has ended: nobody holds its lock."""
    try:
        return not _held(folder / "lock")
    except FileNotFoundError:
        return True  # locked before it was named, so a named folder without a lock was never in use
    except OSError:
        return False  # not ours to open (another user's worker): it stays for its own kind to tell


# --- Initialised templates: ``init`` once per bundle version -------------------------------------
#
# What ``init`` leaves in a run's folder (``.terraform/``: the backend's settings, the providers linked from
# the plugin cache, the modules; ``.terraform.lock.hcl``) depends only on the module, the engine and its CLI
# config: the backend block is the same for every deployment (its address and the run's credential come from
# the engine's environment, ``TF_HTTP_*``). So the first run of a bundle version in a worker process keeps a
# copy, and the next runs of that version in that process copy it in instead of running ``init``.
#
# Per process (in its folder, :func:`process_dir`), like the plugin cache its providers link into, and removed
# with it when the process is gone:
# a process runs one run at a time, so no two runs write one template. A template appears whole or not at all
# (made beside it, then renamed into place); a run copies it into its own folder and never writes to it.

TEMPLATE_PARTS = (".terraform", ".terraform.lock.hcl")


def init_template(base: Path, key: str) -> Path:
    """Where this process keeps the initialised template for ``key`` (see :func:`template_key`)."""
    return process_dir(base) / "init" / key


def template_key(version_pk, module_sha: str, binary: str, cli_config: str, providers: str = "") -> str:
    """The template's name: the bundle version and everything ``init``'s result depends on (the module's
    archive, the engine binary and its modification time, the CLI config with its provider sources, what the
    filesystem mirror holds: :func:`mirror_fingerprint`)."""
    with contextlib.suppress(OSError):
        binary = f"{binary}@{os.stat(binary).st_mtime_ns}"
    digest = hashlib.sha256("\0".join([str(module_sha), binary, cli_config, providers]).encode()).hexdigest()[:16]
    return f"v{version_pk}-{digest}"


def mirror_fingerprint(mirror: Path) -> str:
    """Every file of the provider mirror with its size and modification time: a provider added, upgraded or
    rebuilt there makes a new template (the next run initialises again, as a fresh worker would)."""
    entries = []
    for root, _dirs, files in os.walk(mirror):
        for name in files:
            path = Path(root, name)
            with contextlib.suppress(OSError):
                stat = path.stat()
                entries.append(f"{path.relative_to(mirror)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


MIRRORED_HOST = "slipway.local/"


def template_is_pinned(workdir: Path, shipped_lock: bool) -> bool:
    """Whether what ``init`` installed here is the same for every later run: the bundle shipped its own lock
    file, or every provider came from the filesystem mirror (whose content is in the key). A provider from a
    registry, unpinned, could be a newer one for a fresh ``init`` elsewhere: such a folder is not kept."""
    if shipped_lock:
        return True
    try:
        lock = (workdir / ".terraform.lock.hcl").read_text()
    except OSError:
        return True  # no providers at all (built-in resources only)
    sources = [line.split('"')[1] for line in lock.splitlines() if line.startswith('provider "')]
    return all(source.startswith(MIRRORED_HOST) for source in sources)


def reuse_template(template: Path, workdir: Path) -> bool:
    """Copy an initialised template into ``workdir``; False when there is none (the run runs ``init``)."""
    if not (template / ".terraform").is_dir():
        return False
    for part in TEMPLATE_PARTS:
        source = template / part
        if source.is_dir():
            shutil.copytree(source, workdir / part, symlinks=True, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, workdir / part)
    return True


def template_has_providers(template: Path, state_providers: set[str]) -> bool:
    """Whether the template's lock file has every provider a state names (``provider["HOST/NS/TYPE"]`` or
    ``provider["HOST/NS/TYPE"].alias``; the engine's built-in ones need none)."""
    sources = {p.split('"')[1] if '"' in p else p for p in state_providers}
    sources = {s for s in sources if not s.startswith("terraform.io/builtin/")}
    if not sources:
        return True
    try:
        lock = (template / ".terraform.lock.hcl").read_text()
    except OSError:
        return False
    return all(f'provider "{source}"' in lock for source in sources)


def save_template(workdir: Path, template: Path) -> bool:
    """Keep what ``init`` left in ``workdir`` as ``template`` (unless one is there already or nothing was made)."""
    if template.exists() or not (workdir / ".terraform").is_dir():
        return False
    partial = template.with_name(f".{template.name}.{uuid.uuid4().hex}")
    try:
        partial.mkdir(parents=True)
        for part in TEMPLATE_PARTS:
            source = workdir / part
            if source.is_dir():
                shutil.copytree(source, partial / part, symlinks=True)
            elif source.is_file():
                shutil.copy2(source, partial / part)
        partial.rename(template)  # whole or not at all; a template made meanwhile wins (rename fails)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        return False
    return True


def clean_plugin_caches(base: Path) -> list[Path]:
    """Remove the folders of worker processes that are gone (their plugin caches, CLI configs and initialised
    templates: :func:`process_dir`), and what a process left when it died while making its folder."""
    removed = []
    for path in base.glob(f"{PROCESS_PREFIX}*"):
        if path.is_dir() and _process_gone(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for path in base.glob(f".{PROCESS_PREFIX}*"):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - path.stat().st_mtime > YOUNG_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    removed = [path for path in removed if not path.exists()]  # what could not be removed is not reported
    # Named by process id alone, as workers before the folders above named them: only their own host can tell.
    for path in [*base.glob("plugin-cache-*"), *base.glob("slipway-*.tfrc"), *base.glob("init-*")]:
        pid = (
            path.name.removeprefix("plugin-cache-").removeprefix("slipway-").removeprefix("init-").removesuffix(".tfrc")
        )
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def clean(base: Path) -> list[Path]:
    """Remove the work directories nobody uses any more (runs and drift checks whose worker died), after storing
    any ``errored.tfstate`` a run left. Called when a worker starts. Returns what was removed."""
    removed = []
    if not base.is_dir():
        return removed
    for workdir in sorted([*base.glob("run-*"), *base.glob("drift-*")]):
        if not workdir.is_dir():
            continue
        try:
            if _in_use(workdir):
                continue
            meta = _meta(workdir)
            if (workdir / ERRORED_STATE).is_file() and meta.get("deployment"):
                store_errored_state(workdir, run_id=meta.get("run"), deployment_id=meta["deployment"])
        except Exception:  # one bad directory must not stop the worker; it stays for a person to look at
            log.exception("could not clean up %s", workdir)
            continue
        shutil.rmtree(workdir, ignore_errors=True)
        log.info("removed the work directory of a run or check whose worker died: %s", workdir)
        removed.append(workdir)
    clean_plugin_caches(base)
    return removed


# --- A worker stopping ------------------------------------------------------------------------------------
#
# A warm shutdown reaches the worker's main process (Celery's ``worker_shutting_down``), not the pool process
# executing a run, which goes on to the runs queued behind it (``runner.execute_in_line``). The main process
# leaves a marker here; the pool process looks for it before it takes another run, and hands that run back to
# the broker instead (another worker, or this one once restarted, takes it).


def _stop_marker(base: Path, worker: str) -> Path:
    return base / f"stopping-{hashlib.sha256(worker.encode()).hexdigest()[:16]}"


def mark_stopping(base: Path, worker: str, stopping: bool = True) -> None:
    """Say (or, when the worker starts, unsay) that ``worker`` (its Celery node name) is stopping."""
    marker = _stop_marker(base, worker)
    if stopping:
        base.mkdir(parents=True, exist_ok=True)
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def is_stopping(base: Path, worker: str) -> bool:
    return bool(worker) and _stop_marker(base, worker).exists()
