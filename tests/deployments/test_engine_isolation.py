"""The engine runs apart from the worker's secrets: a minimal environment, its own user when the worker
is root and SLIPWAY_ENGINE_USER names one, a worker environment it cannot read from /proc, and one
plugin cache per worker process."""

import ctypes
import fcntl
import os
import pwd
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from deployments.runs import engine
from deployments.runs.workdirs import clean_plugin_caches

WORKER_SECRETS = {
    "DATABASE_URL": "postgres://slipway:db-password-3f9a@db/slipway",
    "SECRET_KEY": "django-secret-key-77c1",
    "SLIPWAY_ENCRYPTION_KEY": "fernet-key-a1b2c3",
    "CELERY_BROKER_URL": "redis://:broker-password-91@redis:6379/0",
    "EMAIL_HOST_PASSWORD": "smtp-password-5e",
}


def run(args, workdir, env):
    lines = []
    result = engine.run_command(
        args, cwd=workdir, env=env, on_line=lambda s, line: lines.append(line), should_stop=lambda: False, timeout=30
    )
    return result.returncode, "\n".join(lines)


def test_the_engine_gets_a_minimal_environment(monkeypatch, settings, tmp_path):
    settings.SLIPWAY_WORKDIR = tmp_path
    for key, value in WORKER_SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_PROFILE", "deployer")  # a cloud's own credentials still reach its provider
    env = engine.engine_env(tmp_path / "run-1")
    assert not set(WORKER_SECRETS) & set(env)
    assert not any(secret in " ".join(env.values()) for secret in WORKER_SECRETS.values())
    assert env["AWS_PROFILE"] == "deployer"

    workdir = tmp_path / "run-1"
    workdir.mkdir()
    code, output = run(["/bin/sh", "-c", "env"], workdir, env)
    assert code == 0 and "TF_IN_AUTOMATION=1" in output
    assert not any(secret in output for secret in WORKER_SECRETS.values())


def test_each_worker_process_has_its_own_plugin_cache(settings, tmp_path):
    settings.SLIPWAY_WORKDIR = tmp_path
    cache, config = engine.plugin_cache()
    assert cache.parent.name.startswith(f"worker-{socket.gethostname()}-{os.getpid()}-")
    assert str(cache) in config.read_text()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # another pool process
        os.write(write, str(engine.plugin_cache()[0]).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    other = Path(os.read(read, 4096).decode())
    assert other != cache and other.parent.name.startswith(f"worker-{socket.gethostname()}-{pid}-")
    # A starting worker removes the caches of processes that are gone, and keeps its own.
    assert other.parent in clean_plugin_caches(tmp_path)
    assert cache.exists() and not other.exists()


def test_a_process_of_another_host_keeps_its_plugin_cache_while_it_lives(settings, tmp_path):
    """Containers that share SLIPWAY_WORKDIR number their processes alike: a folder is told live by its lock,
    which a process of another container holds just as well, not by whether its pid lives here."""
    settings.SLIPWAY_WORKDIR = tmp_path
    cache, _ = engine.plugin_cache()
    ready, release = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # the other container's worker: its pid (above this host's pid_max) lives in its own namespace
        folder = tmp_path / "worker-elsewhere-4194305-0badc0de"
        folder.mkdir()
        fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        (folder / "plugin-cache").mkdir()
        os.write(ready[1], b"1")
        os.read(release[0], 1)  # lives until told to end
        os._exit(0)
    assert os.read(ready[0], 1) == b"1"
    theirs = tmp_path / "worker-elsewhere-4194305-0badc0de"
    try:
        assert clean_plugin_caches(tmp_path) == []
        assert theirs.exists() and cache.exists()
    finally:
        os.write(release[1], b"1")
        os.waitpid(pid, 0)
    assert clean_plugin_caches(tmp_path) == [theirs]  # ended: its lock is free
    assert cache.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching the engine's user needs a root worker")
def test_a_root_worker_runs_the_engine_as_its_own_user_which_cannot_read_the_worker(monkeypatch, settings):
    user = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="slipway-engine-user-"))
    base.chmod(0o711)  # the engine's user may pass through to its run's folder, and list nothing
    try:
        settings.SLIPWAY_WORKDIR = base
        settings.SLIPWAY_ENGINE_USER = "nobody"
        monkeypatch.setenv("SLIPWAY_ENCRYPTION_KEY", WORKER_SECRETS["SLIPWAY_ENCRYPTION_KEY"])
        # A stand-in for the worker: a root process whose environment holds the keys.
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=dict(os.environ))
        workdir = base / "run-1"
        workdir.mkdir(mode=0o700)
        (workdir / "terraform.tfvars.json").write_text("{}")
        engine.hand_over(workdir)
        assert workdir.stat().st_uid == user.pw_uid
        # (cat's complaints to /dev/null: on a separate stream they could come out before id's line)
        script = (
            f"id -u; cat /proc/{worker.pid}/environ 2>/dev/null || echo unreadable; "
            f"cat /proc/{os.getpid()}/environ 2>/dev/null || true"
        )
        code, output = run(["/bin/sh", "-c", script], workdir, engine.engine_env(workdir))
        worker.kill()
        worker.wait()
        assert code == 0 and output.splitlines()[0] == str(user.pw_uid)
        assert "unreadable" in output
        assert WORKER_SECRETS["SLIPWAY_ENCRYPTION_KEY"] not in output
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching the engine's user needs a root worker")
def test_the_engines_user_fills_the_plugin_cache_during_init_and_cannot_change_it_after(settings):
    """A module's local-exec runs as the engine's user during plan and apply: it must not be able to replace a
    provider in the process's plugin cache, which the later runs of other deployments execute."""
    user = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="slipway-engine-cache-"))
    base.chmod(0o711)
    try:
        settings.SLIPWAY_WORKDIR = base
        settings.SLIPWAY_ENGINE_USER = "nobody"
        workdir = base / "run-1"
        workdir.mkdir(mode=0o700)
        cache, _ = engine.plugin_cache()
        provider = cache / "slipway.local" / "provider"
        env = engine.engine_env(workdir)

        engine.hand_over(workdir, installs=True)  # init: installs into the cache, as the engine's user
        install = (
            f"mkdir -p {provider.parent} && printf '#!/bin/sh\\necho genuine\\n' > {provider} && chmod 700 {provider}"
        )
        code, output = run(["/bin/sh", "-c", install], workdir, env)
        assert code == 0, output
        assert provider.stat().st_uid == user.pw_uid

        engine.hand_over(workdir)  # plan, apply: a local-exec may run
        tamper = (
            f"(echo 'echo tampered' > {provider}) 2>/dev/null && echo replaced; "
            f"(touch {provider.parent}/extra) 2>/dev/null && echo added; "
            f"{provider}"
        )
        code, output = run(["/bin/sh", "-c", tamper], workdir, env)
        assert output.splitlines() == ["genuine"]  # still runs, as that user, and was not changed
        assert provider.stat().st_uid == os.geteuid() and not provider.stat().st_mode & 0o022

        engine.hand_over(workdir, installs=True)  # the next init may install again
        assert provider.stat().st_uid == user.pw_uid
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_an_unknown_engine_user_is_refused_in_words(settings):
    settings.SLIPWAY_ENGINE_USER = "no-such-user-here"
    if os.geteuid() != 0:
        assert engine.engine_user() is None  # not root: the setting cannot apply, the engine runs as the worker
        return
    with pytest.raises(engine.EngineNotFound, match="SLIPWAY_ENGINE_USER='no-such-user-here' is not a user"):
        engine.engine_user()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs to start processes as another user")
def test_a_protected_worker_cannot_be_read_by_processes_of_its_own_user(tmp_path):
    """Without a separate user, the worker is non-dumpable: same-user processes (the engine, a local-exec
    command) cannot read its /proc/<pid>/environ."""
    user = pwd.getpwnam("nobody")
    probe = (
        "import ctypes, os, subprocess, sys\n"
        "if sys.argv[1] == 'protect':\n"
        "    ctypes.CDLL('libc.so.6').prctl(4, 0)\n"
        "child = subprocess.run(['cat', f'/proc/{os.getpid()}/environ'], capture_output=True)\n"
        "print('readable' if b'KEEP_OUT' in child.stdout else 'unreadable')\n"
    )
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # what a worker process does at start: protect_environment(), then ask the kernel
        engine.protect_environment()
        os.write(write, str(ctypes.CDLL("libc.so.6").prctl(3, 0, 0, 0, 0)).encode())  # PR_GET_DUMPABLE
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0"
    outputs = {}
    for mode in ("protect", "plain"):
        done = subprocess.run(
            ["/usr/bin/python3", "-c", probe, mode],
            env={"KEEP_OUT": "worker-secret", "PATH": "/usr/bin:/bin"},
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            cwd="/",
            capture_output=True,
            text=True,
        )
        outputs[mode] = done.stdout.strip() or done.stderr
    assert outputs == {"protect": "unreadable", "plain": "readable"}
