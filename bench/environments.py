"""Deploy-all and teardown of a connected environment: the parallel speed-up of going level by level.

    .venv/bin/python bench/environments.py [--deployments 30] [--levels 4] [--workers 4] [--seconds 3]

Needs PostgreSQL and Redis on 127.0.0.1 (its own database, slipway_bench_envs, and Redis db 8) and the
engine on PATH. It starts a web server and W Celery workers (one process each, concurrency 1), loads the
benchmark bundle ``bench/bundles/hop`` (an HTTP endpoint that may call another one; creating and
destroying it each take ``--seconds``, a local-exec sleep) and builds an environment of N of them in L
levels: level 1 the widest, each deployment of a level connected to one of the level below. Then, through
the API, it tears the environment down and deploys it again, each with one call, and prints for each:

1. the wall time of the environment run (requested to finished);
2. the sum of its deployments' own run times (each run's start to finish);
3. their ratio, the parallel speed-up (the best possible is about the workers' count, less the levels'
   stragglers), and the longest level's share of the wall time;
4. per level: its deployments, its wall time (first run queued to last run finished) and the longest wait
   of one of its runs for a worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "slipway_bench_envs"
REDIS_DB = "8"
HOP = ROOT / "bench" / "bundles" / "hop"


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


def wait_until(condition, *, timeout: float, every: float = 0.5, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def level_sizes(total: int, levels: int) -> list[int]:
    """``total`` deployments over ``levels`` levels, the lowest the widest (e.g. 30 in 4: 12, 8, 6, 4)."""
    weights = list(range(levels + 1, 1, -1))
    sizes = [max(1, total * w // sum(weights)) for w in weights]
    sizes[0] += total - sum(sizes)
    return sizes


def measure(env_run) -> dict:
    """Wall time, the sum of run times and per level figures of one finished environment run."""
    steps = list(env_run.steps.select_related("run").order_by("level"))
    runs = [s.run for s in steps if s.run is not None and s.run.started_at and s.run.finished_at]
    total = sum((r.finished_at - r.started_at).total_seconds() for r in runs)
    wall = (env_run.finished_at - env_run.created_at).total_seconds()
    levels = []
    for level in sorted({s.level for s in steps}):
        mine = [s.run for s in steps if s.level == level and s.run is not None and s.run.finished_at]
        if not mine:
            continue
        span = (max(r.finished_at for r in mine) - min(r.created_at for r in mine)).total_seconds()
        waits = [(r.started_at - r.created_at).total_seconds() for r in mine if r.started_at]
        own = sum((r.finished_at - r.started_at).total_seconds() for r in mine if r.started_at)
        levels.append((level + 1, len(mine), span, own, max(waits, default=0.0)))
    return {"wall": wall, "sum": total, "runs": len(runs), "levels": levels, "status": env_run.status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=30)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=3, help="How long each hop takes to create and to destroy")
    opts = parser.parse_args()
    if opts.levels > opts.deployments:
        parser.error("--levels cannot exceed --deployments")

    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="bench-envs-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "SLIPWAY_BASE_URL": base,
        "SLIPWAY_WORKDIR": str(work / "engine"),
        "SLIPWAY_PROVIDER_DIR": str(work / "providers"),
        "SLIPWAY_SANDBOX_DELAY_SCALE": "0",
        "SLIPWAY_DRIFT_INTERVAL_PROTOTYPE": "0",
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], check=True, capture_output=True)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--password", "bench-password")
    manage(env, "sync_bundles", str(HOP))
    token = manage(env, "create_api_token", "dev").strip().splitlines()[-1]
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "CELERY_BROKER_URL")})
    os.environ.update(SLIPWAY_BASE_URL=base, DJANGO_SETTINGS_MODULE="portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from deployments.environments.models import EnvironmentRun
    from deployments.models import Deployment

    gunicorn = [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2"]
    procs = [start(env, [*gunicorn, "--threads", "4"], work / "web.log")]
    for index in range(opts.workers):
        worker = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=1", "-n", f"e{index}@%h"]
        procs.append(start(env, [*worker, "--loglevel=WARNING"], work / f"worker{index}.log"))
    # Beat advances environment runs whose runs send no signal; the runs here all do, so it is not started.
    try:
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        wait_until(lambda: _up(api, base), timeout=60, what="the web server")
        time.sleep(3)  # workers ready
        found = api.get(f"{base}/api/v1/environments/", params={"tier": "prototype"}, timeout=10).json()
        environment = found["results"][0]["id"]

        sizes = level_sizes(opts.deployments, opts.levels)
        below: list[str] = []
        built = time.perf_counter()
        for level, size in enumerate(sizes, 1):
            names = [f"hop-{level}-{i:02d}" for i in range(size)]
            for i, name in enumerate(names):
                body = {"environment": environment, "name": name, "bundle": "hop", "params": {"seconds": opts.seconds}}
                if below:
                    body["connections"] = {"upstream": below[i % len(below)]}
                api.post(f"{base}/api/v1/deployments/", json=body, timeout=30).raise_for_status()
            wait_until(
                lambda names=names: (
                    Deployment.objects.filter(name__in=names, status__in=("live", "failed")).count() == len(names)
                ),
                timeout=600,
                every=1,
                what=f"level {level}",
            )
            below = names
        built_in = time.perf_counter() - built
        failed = Deployment.objects.filter(status="failed").count()

        results = {}
        env_slug = api.get(f"{base}/api/v1/environments/{environment}/", timeout=10).json()["slug"]
        for action, path, body in (
            ("teardown", "teardown", {"confirm": env_slug, "reason": "bench"}),
            ("deploy", "deploy", {"reason": "bench"}),
        ):
            answer = api.post(f"{base}/api/v1/environments/{environment}/{path}/", json=body, timeout=60)
            answer.raise_for_status()
            env_run_id = answer.json()["id"]
            wait_until(
                lambda pk=env_run_id: not EnvironmentRun.objects.get(pk=pk).is_active,
                timeout=opts.deployments * (opts.seconds + 60),
                every=0.5,
                what=action,
            )
            results[action] = measure(EnvironmentRun.objects.get(pk=env_run_id))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{opts.deployments} hops in {opts.levels} levels ({', '.join(map(str, sizes))}), {opts.workers} workers, "
        f"{opts.seconds} s to create or destroy each; built one level at a time in {built_in:.0f} s ({failed} failed)"
    )
    print(f"\n| {'measure':<44} | {'teardown':>12} | {'deploy-all':>12} |")
    print(f"|{'-' * 46}|{'-' * 14}|{'-' * 14}|")
    t, d = results["teardown"], results["deploy"]

    def row(name, a, b):
        print(f"| {name:<44} | {a:>12} | {b:>12} |")

    row("outcome", t["status"], d["status"])
    row("runs", str(t["runs"]), str(d["runs"]))
    row("wall time (requested to finished)", f"{t['wall']:.1f} s", f"{d['wall']:.1f} s")
    row("sum of the runs' own times", f"{t['sum']:.1f} s", f"{d['sum']:.1f} s")
    row("parallel speed-up (sum / wall)", f"{t['sum'] / t['wall']:.2f}x", f"{d['sum'] / d['wall']:.2f}x")
    longest_t = max((lv[2] for lv in t["levels"]), default=0.0)
    longest_d = max((lv[2] for lv in d["levels"]), default=0.0)
    row("longest level's share of the wall time", f"{longest_t / t['wall']:.0%}", f"{longest_d / d['wall']:.0%}")
    for name, figures in (("teardown", t), ("deploy-all", d)):
        print(f"\n{name}: | level | deployments | level wall | runs' own sum | longest wait for a worker |")
        for level, count, span, own, wait in figures["levels"]:
            print(
                f"{'':{len(name) + 1}} | {level:>5} | {count:>11} | {span:>8.1f} s | {own:>11.1f} s | {wait:>23.1f} s |"
            )


def _up(api, base) -> bool:
    try:
        return api.get(f"{base}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


if __name__ == "__main__":
    main()
