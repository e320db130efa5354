"""The engine runs apart from the worker's secrets: a minimal environment, its own user when the worker
is root and SLIPWAY_ENGINE_USER names one, a worker environment it cannot read from /proc, and one
plugin cache per worker process."""

import ctypes
import fcntl
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
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
    # An engine's supervisor holds the folder's lock too: it stays while an engine its worker left still runs.
    workdir = tmp_path / "run-1"
    workdir.mkdir()
    code, output = run(["/bin/sh", "-c", "ls -l /proc/$PPID/fd"], workdir, engine.engine_env(workdir))
    assert code == 0 and str(cache.parent / "lock") in output


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


LINKED, PACKED = "slipway.local/test/linked", "slipway.local/test/packed"
TWO_PROVIDERS = (
    "terraform {\n  required_providers {\n"
    f'    linked = {{ source = "{LINKED}" }}\n    packed = {{ source = "{PACKED}" }}\n'
    "  }\n}\n"
)


def provider_mirror() -> Path:
    """A filesystem mirror with a provider in each layout: unpacked (the engine links the cache's entry to it)
    and packed (a zip, which the engine extracts into the cache, as it does a registry's download)."""
    mirror = Path(tempfile.mkdtemp(prefix="slipway-mirror-"))
    unpacked = mirror / LINKED / "1.0.0" / "linux_amd64"
    unpacked.mkdir(parents=True)
    (unpacked / "terraform-provider-linked_v1.0.0").write_text("#!/bin/sh\necho linked\n")
    packed = mirror / PACKED / "terraform-provider-packed_1.0.0_linux_amd64.zip"
    packed.parent.mkdir(parents=True)
    with zipfile.ZipFile(packed, "w") as archive:
        info = zipfile.ZipInfo("terraform-provider-packed_v1.0.0")
        info.external_attr = 0o755 << 16
        archive.writestr(info, "#!/bin/sh\necho genuine\n")
    for path in (mirror, *mirror.rglob("*")):
        path.chmod(0o755)
    return mirror


@pytest.mark.skipif(os.geteuid() != 0, reason="switching the engine's user needs a root worker")
@pytest.mark.skipif(not shutil.which("terraform") and not shutil.which("tofu"), reason="needs the engine")
def test_the_engines_user_never_writes_the_plugin_cache_and_init_still_fills_it(settings):
    """A module's local-exec runs as the engine's user during plan and apply, beside other deployments' runs
    (another pool process runs as the same user): it must not be able to replace a provider in a process's
    plugin cache, which later runs execute. ``init``, run by the real engine as that user, installs into a
    staging cache in its own folder; the worker moves the packages into the cache, sealed."""
    user = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="slipway-engine-cache-"))
    base.chmod(0o711)
    mirror = provider_mirror()
    try:
        settings.SLIPWAY_WORKDIR = base
        settings.SLIPWAY_ENGINE_USER = "nobody"
        settings.SLIPWAY_PROVIDER_DIR = mirror
        binary = engine.engine_binary()
        cache, _ = engine.plugin_cache()
        linked, packed = (cache / source / "1.0.0" / "linux_amd64" for source in (LINKED, PACKED))

        def init(workdir: Path) -> str:
            lines = []
            result = engine.run_engine(
                binary,
                ["init", "-input=false", "-no-color"],
                workdir=workdir,
                env=engine.engine_env(workdir),
                on_line=lambda stream, line: lines.append(line),
                should_stop=lambda: False,
                timeout=60,
            )
            assert result.returncode == 0, lines
            return "\n".join(lines)

        folders = []
        for name in ("run-1", "run-2"):
            workdir = base / name
            workdir.mkdir(mode=0o700)
            (workdir / "main.tf").write_text(TWO_PROVIDERS)
            folders.append(workdir)
        first = init(folders[0])
        assert "Installed slipway.local/test/packed v1.0.0" in first
        # In the cache, the worker's: the extracted package sealed, the mirror's linked; the run's links point
        # at the cache; the staging cache is gone.
        assert linked.is_symlink() and linked.resolve() == (mirror / LINKED / "1.0.0" / "linux_amd64").resolve()
        assert packed.is_dir() and not packed.is_symlink() and packed.stat().st_uid == os.geteuid()
        provider = packed / "terraform-provider-packed_v1.0.0"
        assert provider.stat().st_uid == os.geteuid() and not provider.stat().st_mode & 0o022
        for source, cached in ((LINKED, linked), (PACKED, packed)):
            link = folders[0] / ".terraform" / "providers" / source / "1.0.0" / "linux_amd64"
            assert link.is_symlink() and Path(os.readlink(link)) == cached
        assert not (folders[0] / ".slipway" / engine.STAGING).exists()

        # What a local-exec can do as that user: neither replace a provider nor add one; it still runs them.
        engine.hand_over(folders[0])
        tamper = (
            f"(echo 'echo tampered' > {provider}) 2>/dev/null && echo replaced; "
            f"(touch {packed}/terraform-provider-evil) 2>/dev/null && echo added; "
            f"(mv {cache / 'slipway.local'} {cache / 'gone'}) 2>/dev/null && echo moved; "
            f"id -u; {provider}; {linked}/terraform-provider-linked_v1.0.0"
        )
        _code, output = run(["/bin/sh", "-c", tamper], folders[0], engine.engine_env(folders[0]))
        assert output.splitlines() == [str(user.pw_uid), "genuine", "linked"], output

        # The next init installs afresh and keeps the cache's copy; the first folder initialises again from
        # its links to the cache.
        assert "Installed slipway.local/test/packed v1.0.0" in init(folders[1])
        link = folders[1] / ".terraform" / "providers" / PACKED / "1.0.0" / "linux_amd64"
        assert Path(os.readlink(link)) == packed
        assert "Using previously-installed slipway.local/test/packed v1.0.0" in init(folders[0])
        assert sorted(p.name for p in packed.iterdir()) == ["terraform-provider-packed_v1.0.0"]
        assert [p.name for p in cache.rglob("*") if p.name.startswith(".")] == []  # nothing half-made left
    finally:
        subprocess.run(["rm", "-rf", str(base), str(mirror)], check=False)


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
