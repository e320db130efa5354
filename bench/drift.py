"""Drift checks at scale: throughput with 2 workers, the state lock, and a developer's apply meanwhile.

    .venv/bin/python bench/drift.py [--deployments 200] [--workers 2] [--in-flight 1]

Needs PostgreSQL and Redis on 127.0.0.1 (its own database, slipway_bench_drift, and Redis db 7) and the
engine on PATH. It starts a web server and W Celery workers (one process each), deploys N postgres
databases into the sandbox cloud (delays scaled to 0), changes one in ten behind Slipway's back, then
queues a drift check for every deployment at once (what the schedule does when they all fall due) and,
once the checks are under way, asks for a developer's apply. It prints:

1. drift checks per minute (N checks, first queued to last finished) and each check's duration;
2. how long a check holds the state lock (sampled every 50 ms while only checks run) next to how long
   an apply holds it;
3. how long the developer's apply waited for a worker, against the goal: no more than one check's
   duration.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "slipway_bench_drift"
REDIS_DB = "7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env, *args) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def start(env, args, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] if ordered else 0.0


def wait_until(condition, *, timeout: float, every: float = 0.5, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--in-flight", type=int, default=1, help="SLIPWAY_DRIFT_MAX_IN_FLIGHT")
    opts = parser.parse_args()

    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="bench-drift-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "SLIPWAY_BASE_URL": base,
        "SLIPWAY_WORKDIR": str(work / "engine"),
        "SLIPWAY_PROVIDER_DIR": str(work / "providers"),
        "SLIPWAY_SANDBOX_DELAY_SCALE": "0",
        "SLIPWAY_DRIFT_MAX_IN_FLIGHT": str(opts.in_flight),
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], check=True, capture_output=True)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--password", "bench-password")
    token = manage(env, "create_api_token", "ops").strip().splitlines()[-1]
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "CELERY_BROKER_URL", "SLIPWAY_DRIFT_MAX_IN_FLIGHT")})
    os.environ.update(SLIPWAY_BASE_URL=base, DJANGO_SETTINGS_MODULE="portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from deployments.drift.dispatch import drift_dispatch
    from deployments.drift.models import DriftCheck
    from deployments.models import Deployment, Run, StateLock
    from portal.sandbox import services as sandbox

    gunicorn = [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2"]
    procs = [start(env, [*gunicorn, "--threads", "4"], work / "web.log")]
    for index in range(opts.workers):
        worker = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=1", "-n", f"b{index}@%h"]
        procs.append(start(env, [*worker, "--loglevel=WARNING"], work / f"worker{index}.log"))
    try:
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        wait_until(lambda: _up(api, base), timeout=60, what="the web server")
        time.sleep(3)  # workers ready
        environment = api.get(f"{base}/api/v1/environments/", params={"tier": "prototype"}, timeout=10).json()
        environment = environment["results"][0]["id"]

        started = time.perf_counter()
        for i in range(opts.deployments):
            body = {"environment": environment, "name": f"db-{i:03d}", "bundle": "postgres", "params": {}}
            api.post(f"{base}/api/v1/deployments/", json=body, timeout=30).raise_for_status()
        settled = ("live", "failed")
        wait_until(
            lambda: Deployment.objects.filter(status__in=settled).count() == opts.deployments,
            timeout=opts.deployments * 30,
            every=2,
            what="the deployments",
        )
        deployed_in = time.perf_counter() - started
        failed = Deployment.objects.filter(status="failed").count()
        applies = list(Run.objects.filter(status="succeeded").exclude(started_at=None))
        apply_s = [(r.finished_at - r.started_at).total_seconds() for r in applies]

        # One in ten changed behind Slipway's back, as someone in the console would.
        changed = 0
        for deployment in Deployment.objects.filter(status="live").order_by("name")[::10]:
            sandbox.resource_update(
                resource_id=deployment.outputs["database_id"], attributes={"storage_gb": 40}, actor="console: bench"
            )
            changed += 1

        live = list(Deployment.objects.filter(status="live"))
        lock_samples = [0, 0]  # samples taken, samples that saw a lock
        stop = threading.Event()

        def sample_locks():
            from django.db import connection

            while not stop.is_set():
                if not Run.objects.filter(status__in=("running", "applying")).exists():
                    lock_samples[0] += 1
                    lock_samples[1] += StateLock.objects.exists()
                time.sleep(0.05)
            connection.close()

        sampler = threading.Thread(target=sample_locks, daemon=True)
        checks_started = time.perf_counter()
        DriftCheck.objects.bulk_create(DriftCheck(deployment=d, channel="schedule") for d in live)
        sampler.start()
        drift_dispatch()
        wait_until(
            lambda: DriftCheck.objects.exclude(status__in=("queued", "running")).count() >= max(1, len(live) // 5),
            timeout=len(live) * 30,
            every=0.5,
            what="the first checks",
        )
        # A developer changes a database while the checks are under way.
        target = live[1]
        asked = api.post(
            f"{base}/api/v1/deployments/{target.pk}/apply/",
            json={"params": {"storage_gb": 30}, "expected_version": target.version, "reason": "bench"},
            timeout=30,
        )
        asked.raise_for_status()
        developer_run = Run.objects.get(pk=asked.json()["id"])
        wait_until(
            lambda: not DriftCheck.objects.filter(status__in=("queued", "running")).exists(),
            timeout=len(live) * 30,
            every=1,
            what="the checks",
        )
        checks_in = time.perf_counter() - checks_started
        stop.set()
        sampler.join(timeout=5)
        developer_run.refresh_from_db()
        wait_until(lambda: Run.objects.get(pk=developer_run.pk).finished_at is not None, timeout=120, what="the apply")
        developer_run.refresh_from_db()
        checks = list(DriftCheck.objects.exclude(started_at=None).exclude(finished_at=None))
        outcome = {s: DriftCheck.objects.filter(status=s).count() for s in ("in_sync", "drifted", "error", "skipped")}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    durations = [(c.finished_at - c.started_at).total_seconds() for c in checks]
    check_median = statistics.median(durations)
    per_minute = len(checks) / checks_in * 60
    waited = (developer_run.started_at - developer_run.created_at).total_seconds()
    need = opts.deployments / 15  # every deployment checked within the production interval (15 min)
    seen = lock_samples[1]
    rows = [
        ("deployments (the newest postgres, in the sandbox)", f"{opts.deployments} ({failed} failed)", "", ""),
        ("workers / checks in flight at most", f"{opts.workers} / {opts.in_flight}", "", ""),
        ("deploying them: total, median apply", f"{deployed_in:.0f} s, {statistics.median(apply_s):.1f} s", "", ""),
        ("changed in the sandbox behind Slipway's back", str(changed), "", ""),
        (
            "checks: in sync / drifted / error / skipped",
            f"{outcome['in_sync']} / {outcome['drifted']} / {outcome['error']} / {outcome['skipped']}",
            f"drifted = {changed}",
            "met" if outcome["drifted"] == changed and not outcome["error"] else "missed",
        ),
        (
            "drift checks per minute",
            f"{per_minute:.1f}",
            f">= {need:.1f} (all in 15 min)",
            "met" if per_minute >= need else "missed",
        ),
        ("a check's duration: median / p95", f"{check_median:.2f} s / {percentile(durations, 0.95):.2f} s", "", ""),
        (
            "state lock held by a check",
            f"0 s ({seen} of {lock_samples[0]} samples saw a lock)" if not seen else f"seen in {seen} samples",
            "0 s (no lock)",
            "met" if not seen else "missed",
        ),
        ("state lock held by an apply (plan + apply)", f"{statistics.median(apply_s):.1f} s median", "", ""),
        (
            "developer's apply: wait for a worker",
            f"{waited:.2f} s ({developer_run.status})",
            f"<= one check ({check_median:.2f} s)",
            "met" if waited <= check_median and developer_run.status == "succeeded" else "missed",
        ),
    ]
    print(f"\n| {'measure':<46} | {'value':<34} | {'goal':<26} | {'':6} |")
    print(f"|{'-' * 48}|{'-' * 36}|{'-' * 28}|{'-' * 8}|")
    for name, value, goal, met in rows:
        print(f"| {name:<46} | {value:<34} | {goal:<26} | {met:<6} |")


def _up(api, base) -> bool:
    try:
        return api.get(f"{base}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


if __name__ == "__main__":
    main()
