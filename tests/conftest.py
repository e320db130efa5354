"""Shared fixtures: the cast of users, demo projects, the catalog, and a real Celery worker.

Tests that need the worker use ``@pytest.mark.django_db(transaction=True)``: the worker is
another process and only sees committed rows.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from deployments.choices import RUN_ACTIVE, RUN_TERMINAL, RUN_WAITING, RunStatus, Tier
from deployments.models import Environment, Project, Run
from portal.models import Membership, Team
from portal.roles import COMPLIANCE_GROUP, OPS_GROUP

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_BUNDLES = Path(__file__).resolve().parent / "fixtures" / "bundles"
PASSWORD = "correct-horse-battery"


def pytest_configure(config):
    """`make test` runs the suite in parallel processes (pytest-xdist). pytest-django gives each process a
    test database of its own; here each also gets its own broker database (counting down from the one
    configured: 15, 14, ... by default) and engine work directory, so one process's worker never takes
    another's runs and a starting worker never cleans another's work directories."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    index = int(worker.removeprefix("gw"))
    url = urlsplit(settings.CELERY_BROKER_URL)
    if url.scheme in ("redis", "rediss"):
        base = int(url.path.strip("/") or 0)
        broker = urlunsplit(url._replace(path=f"/{(base - index) % 16}"))
        os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL = broker
        from portal.celery import app

        app.conf.broker_url = broker
    settings.SLIPWAY_WORKDIR = Path(settings.SLIPWAY_WORKDIR) / f"xdist-{worker}"


# --- the cast -----------------------------------------------------------------------------


def _user(username: str, *, groups=(), staff=False):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, email=f"{username}@example.com")
    user.is_staff = staff
    user.save()
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def team(db):
    return Team.objects.create(slug="payments", name="Payments")


@pytest.fixture
def other_team(db):
    return Team.objects.create(slug="search", name="Search")


@pytest.fixture
def dev(team):
    user = _user("dev")
    Membership.objects.create(user=user, team=team)
    return user


@pytest.fixture
def teammate(team):
    user = _user("teammate")
    Membership.objects.create(user=user, team=team)
    return user


@pytest.fixture
def outsider(other_team):
    user = _user("outsider")
    Membership.objects.create(user=user, team=other_team)
    return user


@pytest.fixture
def ops(db):
    return _user("ops", groups=[OPS_GROUP], staff=True)


@pytest.fixture
def auditor(db):
    return _user("auditor", groups=[COMPLIANCE_GROUP], staff=True)


@pytest.fixture
def project(team):
    return Project.objects.create(slug="checkout", name="Checkout", team=team)


@pytest.fixture
def proto_env(project):
    return Environment.objects.create(project=project, slug="proto", name="Prototype", tier=Tier.PROTOTYPE)


@pytest.fixture
def prod_env(project):
    return Environment.objects.create(project=project, slug="production", name="Production", tier=Tier.PRODUCTION)


@pytest.fixture
def other_env(other_team):
    other_project = Project.objects.create(slug="search-api", name="Search API", team=other_team)
    return Environment.objects.create(project=other_project, slug="proto", name="Prototype", tier=Tier.PROTOTYPE)


@pytest.fixture
def catalog(db):
    """The shipped catalog plus the test fixture bundles, published: each name maps to its newest version
    (what the catalog page offers). Older versions are in the database too."""
    call_command("sync_bundles", str(settings.SLIPWAY_CATALOG_DIR), str(FIXTURE_BUNDLES), stdout=io.StringIO())
    from bundles.models import BundleVersion

    oldest_first = BundleVersion.objects.select_related("bundle").order_by(
        "bundle__name", "major", "minor", "patch", "prerelease"
    )
    return {v.bundle.name: v for v in oldest_first}


@pytest.fixture(autouse=True, scope="session")
def instant_sandbox():
    """The sandbox cloud (served by the live server in this process) completes every operation at once;
    a test that needs its simulated delays sets SLIPWAY_SANDBOX_DELAY_SCALE with the ``settings`` fixture."""
    settings.SLIPWAY_SANDBOX_DELAY_SCALE = 0.0


@pytest.fixture
def dev_client(client, dev):
    client.force_login(dev)
    return client


# --- real services ------------------------------------------------------------------------


def service_env(**extra) -> dict[str, str]:
    """Environment for a child process that must share this test session's database and broker."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    env["SLIPWAY_WORKDIR"] = str(settings.SLIPWAY_WORKDIR)
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    env.update(extra)
    return env


def start_worker(log_path: Path, env: dict[str, str], concurrency: int = 2, queues: str = "celery") -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 (held open for the life of the worker)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            f"--queues={queues}",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"test-{queues}-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()}")
        if " ready." in log_path.read_text():
            return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"celery worker did not become ready:\n{log_path.read_text()}")


def stop_process(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, live_server, tmp_path_factory):
    """A real Celery worker process on the session's broker and test database.

    The engine it runs reads and writes state through the live server's /state/ backend.
    """
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    workdir = tmp_path_factory.mktemp("engine-work")
    settings.SLIPWAY_WORKDIR = workdir
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    settings.SLIPWAY_BASE_URL = live_server.url
    proc = start_worker(log_path, service_env(SLIPWAY_WORKDIR=str(workdir), SLIPWAY_BASE_URL=live_server.url))
    _SESSION_WORKER.append(proc)
    yield proc
    stop_process(proc)
    if os.environ.get("CI"):
        sys.stdout.write(f"\n--- worker log tail ---\n{log_path.read_text()[-4000:]}\n")


_SESSION_WORKER: list[subprocess.Popen] = []  # the session's worker, once a test has started it


@pytest.fixture(autouse=True)
def runs_settle_before_the_flush(request):
    """A test that ends while the session's worker still executes one of its runs (it deployed and did not wait)
    would have the database flushed under that run: the flush fails, or the run writes into the next test. So
    after each database test, while a worker is up: nothing more for it in the broker, and its runs in flight
    finish (or rest, waiting for a person) before the flush. The flush is set up first, so it is torn down
    after this."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    if transactional:
        request.getfixturevalue("transactional_db")
    yield
    if not transactional or not _SESSION_WORKER or _SESSION_WORKER[0].poll() is not None:
        return
    from portal.celery import app

    with contextlib.suppress(Exception):
        app.control.purge()
    busy = [s for s in RUN_ACTIVE if s not in RUN_WAITING and s != RunStatus.QUEUED]
    deadline, quiet = time.monotonic() + 90, 0
    while time.monotonic() < deadline and quiet < 3:  # three looks in a row with nothing executing
        quiet = 0 if Run.objects.filter(status__in=busy).exists() else quiet + 1
        time.sleep(0.2)


def wait_for_run(run: Run, timeout: float = 90) -> Run:
    """Poll until the run is terminal (or waits for a person); fail with its log if it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in RUN_TERMINAL or run.status in RUN_WAITING:
            return run
        time.sleep(0.2)
    lines = "\n".join(run.log_lines.order_by("seq").values_list("text", flat=True))
    pytest.fail(f"run #{run.pk} still {run.status} after {timeout}s. Log:\n{lines}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, tmp_path) -> None:
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--pidfile",
            str(tmp_path / "redis.pid"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (
            subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip()
            == "PONG"
        ):
            return
        time.sleep(0.1)
    raise RuntimeError("redis did not start")


def stop_redis(port: int) -> None:
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
    time.sleep(0.5)


def start_process(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """A service process of our own (web server, beat) in its own group, its output in ``log_path``."""
    log = open(log_path, "w")  # noqa: SIM115 (held open for the life of the process)
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
