"""Throughput: N deploys queued at once through Slipway with W workers, against the raw engine on W processes.

    .venv/bin/python bench/throughput.py [--queued 50] [--workers 2] [--repeat 3] [--redis-db 8] [--keep]

Needs PostgreSQL and Redis on 127.0.0.1 and the engine on PATH. Its database is ``BENCH_DATABASE_URL``
(default ``postgres://postgres@127.0.0.1:5432/slipway_bench_throughput``), dropped, migrated and seeded
unless ``--keep`` reuses one already set up; its workers' broker is Redis db ``--redis-db`` (flushed). It
starts a web server (gunicorn, as ``bench/run_overhead.py`` does) and W Celery workers of concurrency 1,
then, each round:

1. Slipway: N deployments requested through the API at once (one after the other, as fast as the API
   answers); the time from the first request to the last run finished, from the runs' own timestamps, as
   runs per minute;
2. the raw engine: the same module, the same provider (the sandbox cloud behind the same web server),
   N ``init`` + ``plan -out`` + ``apply`` sequences, each in a fresh directory, on W parallel processes;
3. the ratio Slipway ÷ raw (goal ≥ 0.6).

With ``--repeat R`` it runs R rounds and reports the median ratio. It also prints where a Slipway run's
time goes (waiting in the queue, in the worker, a worker's idle gap between two runs) and the database
work per run (transactions and rows written, from PostgreSQL's statistics).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The web server, the workers' start and the raw engine's run are bench/run_overhead.py's own.
from run_overhead import (
    BUNDLE,
    PRODUCTION,
    engine,
    free_port,
    manage,
    raw_engine_once,
    ready,
    start,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/slipway_bench_throughput"
GOAL = 0.6
# PostgreSQL flushes an idle connection's statistics within 10 s: wait that long around the Slipway phase.
STATS_SETTLE = 11
TERMINAL = ("succeeded", "failed", "cancelled", "interrupted", "planned", "awaiting_approval")


def prepare_database(url: str, keep: bool, env: dict) -> None:
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not keep:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    manage(env, "migrate", "--noinput")
    with psycopg.connect(url) as conn:
        seeded = conn.execute("SELECT 1 FROM auth_user WHERE username = 'ops'").fetchone()
    if not seeded:
        manage(env, "seed_demo", "--password", "bench-password")


TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, str, float, float]]:
    """Every process: pid -> (parent pid, command name, its own CPU seconds, its reaped children's)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                text = handle.read()
        except OSError:  # gone meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        utime, stime, cutime, cstime = (int(f) / TICK for f in fields[11:15])
        table[int(entry.name)] = (int(fields[1]), name, utime + stime, cutime + cstime)
    return table


def cpu_seconds(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far, per group: each root process with every descendant (alive, and reaped
    ones through their parents' children's time), and PostgreSQL's processes (the server's, all of them:
    the machine is otherwise idle)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for group, pids in roots.items():
        total, stack = 0.0, [pid for pid in pids if pid in table]
        while stack:
            pid = stack.pop()
            total += table[pid][2] + table[pid][3]
            stack += children.get(pid, [])
        out[group] = total
    out["PostgreSQL"] = sum(own + reaped for _, name, own, reaped in table.values() if name == "postgres")
    own = os.times()
    out["this script, with its engine processes"] = own.user + own.system + own.children_user + own.children_system
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float], runs: int) -> dict[str, float]:
    return {group: (after[group] - before[group]) / runs for group in before}


def db_activity(url: str) -> tuple[int, int]:
    """Transactions committed in the bench database, and rows inserted, updated or deleted in its tables."""
    with psycopg.connect(url, autocommit=True) as conn:
        xacts = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()
        rows = conn.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
        ).fetchone()
    return int(xacts[0]), int(rows[0])


def slipway_round(api, base, url: str, environment: int, params: dict, queued: int, tag: str, roots: dict) -> dict:
    """N deploys requested at once; wait for every run to end; the figures from the runs' own timestamps."""
    time.sleep(STATS_SETTLE)
    xacts_before, rows_before = db_activity(url)
    cpu_before = cpu_seconds(roots)
    ids = []
    for i in range(queued):
        response = api.post(
            f"{base}/api/v1/deployments/",
            json={"environment": environment, "name": f"tp-{tag}-{i}", "bundle": BUNDLE, "params": params},
            timeout=60,
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    polls = 0
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            polls += 1
            rows = conn.execute(
                "SELECT status, created_at, started_at, finished_at, worker FROM deployments_run "
                "WHERE deployment_id = ANY(%s)",
                [ids],
            ).fetchall()
            if len(rows) == queued and all(row[0] in TERMINAL for row in rows):
                break
            time.sleep(0.2)
    cpu = cpu_delta(cpu_before, cpu_seconds(roots), queued)
    time.sleep(STATS_SETTLE)
    xacts_after, rows_after = db_activity(url)
    failed = [row for row in rows if row[0] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {queued} runs did not succeed: {sorted({r[0] for r in failed})}")
    first = min(row[1] for row in rows)
    last = max(row[3] for row in rows)
    elapsed = (last - first).total_seconds()
    gaps = []
    by_worker: dict[str, list] = {}
    for row in rows:
        by_worker.setdefault(row[4], []).append(row)
    for runs in by_worker.values():
        runs.sort(key=lambda row: row[2])
        gaps += [(b[2] - a[3]).total_seconds() for a, b in itertools.pairwise(runs)]
    return {
        "elapsed": elapsed,
        "per_minute": queued / elapsed * 60,
        "queued": [(row[2] - row[1]).total_seconds() for row in rows],
        "in_worker": [(row[3] - row[2]).total_seconds() for row in rows],
        "gaps": gaps or [0.0],
        # The bench's own polling transactions are taken off (one per poll, and the two statistics reads).
        "xacts": (xacts_after - xacts_before - polls - 2) / queued,
        "rows": (rows_after - rows_before) / queued,
        "cpu": cpu,
    }


def raw_round(module_tar: Path, params: dict, raw_env: dict, queued: int, workers: int, roots: dict) -> dict:
    """N init + plan + apply sequences of the same module on W processes running side by side."""
    remaining = list(range(queued))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if not remaining or errors:
                    return
                remaining.pop()
            try:
                raw_engine_once(module_tar, params, raw_env)
            except BaseException as exc:  # reported after the others stop
                errors.append(exc)
                return

    started, cpu_before = time.perf_counter(), cpu_seconds(roots)
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    elapsed = time.perf_counter() - started
    cpu = cpu_delta(cpu_before, cpu_seconds(roots), queued)
    return {"elapsed": elapsed, "per_minute": queued / elapsed * 60, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queued", type=int, default=50, help="deploys queued at once (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers, and raw engine processes (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the ratio is their median (default 1)")
    parser.add_argument("--redis-db", type=int, default=8, help="the workers' broker: this Redis db (default 8)")
    parser.add_argument("--keep", action="store_true", help="reuse the bench database if it is already set up")
    opts = parser.parse_args()
    # Stopped (a timeout, ^C): still stop the server and workers started below, which would take the next bench's runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{opts.redis_db}",
        "SLIPWAY_BASE_URL": base,
        "SLIPWAY_WORKDIR": str(work / "engine"),
        **PRODUCTION,
        "STATIC_ROOT": str(work / "static"),
        "LOG_LEVEL": "WARNING",
        # The catalog runs on the sandbox cloud: its simulated waits would only measure themselves.
        "SLIPWAY_SANDBOX_DELAY_SCALE": "0",
        "SLIPWAY_PROVIDER_DIR": str(work / "providers"),
    }
    subprocess.run(["redis-cli", "-n", str(opts.redis_db), "flushdb"], check=True, capture_output=True)
    manage(env, "collectstatic", "--noinput", "-v", "0")  # DEBUG off serves the collected, hashed files
    prepare_database(url, opts.keep, env)
    token = manage(env, "create_api_token", "ops").strip()
    gunicorn = [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "-b", f"127.0.0.1:{port}"]
    procs = [start(env, [*gunicorn, "-w", "2", "--threads", "4"], work / "web.log")]
    for index in range(opts.workers):
        celery = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=1"]
        procs.append(start(env, [*celery, "-n", f"tp{index}@%h", "--loglevel=WARNING"], work / f"worker{index}.log"))
    rounds = []
    roots = {
        "web server (API, state backend, sandbox cloud)": [procs[0].pid],
        "workers, with the engine and provider processes they start": [proc.pid for proc in procs[1:]],
    }
    try:
        api, environment, params, module_tar, raw_env = ready(base, token, env, work)
        stamp = time.strftime("%H%M%S")
        # Warm both: each worker process's plugin cache, the web server's processes, the engine's files.
        slipway_round(api, base, url, environment, params, opts.workers * 2, f"{stamp}-warm", roots)
        raw_round(module_tar, params, raw_env, opts.workers, opts.workers, roots)
        for index in range(opts.repeat):
            slipway = slipway_round(api, base, url, environment, params, opts.queued, f"{stamp}-{index}", roots)
            raw = raw_round(module_tar, params, raw_env, opts.queued, opts.workers, roots)
            rounds.append((slipway, raw))
            print(
                f"round {index + 1}: Slipway {slipway['per_minute']:.1f} runs/min, raw {raw['per_minute']:.1f}, "
                f"ratio {slipway['per_minute'] / raw['per_minute']:.2f}; Slipway medians: queued "
                f"{statistics.median(slipway['queued']):.2f} s, in the worker "
                f"{statistics.median(slipway['in_worker']):.2f} s, "
                f"gap {statistics.median(slipway['gaps']):.3f} s; {slipway['xacts']:.0f} transactions and "
                f"{slipway['rows']:.0f} rows written per run",
                flush=True,
            )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    version = subprocess.run([engine(), "version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"\nengine: {version}; bundle: {BUNDLE} (Prototype preset)")
    print(f"{opts.queued} deploys queued at once, {opts.workers} workers / processes, {opts.repeat} round(s)\n")
    print(f"| {'round':<5} | {'Slipway s':>9} | {'runs/min':>8} | {'raw s':>7} | {'runs/min':>8} | {'ratio':>5} |")
    print(f"|{'-' * 7}|{'-' * 11}|{'-' * 10}|{'-' * 9}|{'-' * 10}|{'-' * 7}|")
    ratios = []
    for index, (slipway, raw) in enumerate(rounds, 1):
        ratio = slipway["per_minute"] / raw["per_minute"]
        ratios.append(ratio)
        print(
            f"| {index:<5} | {slipway['elapsed']:>9.1f} | {slipway['per_minute']:>8.1f} | {raw['elapsed']:>7.1f} "
            f"| {raw['per_minute']:>8.1f} | {ratio:>5.2f} |"
        )
    median = statistics.median(ratios)
    print(f"\nratio Slipway ÷ raw, median: {median:.2f} (goal ≥ {GOAL}): {'met' if median >= GOAL else 'MISSED'}\n")

    def pooled(key: str) -> list[float]:
        return [value for slipway, _ in rounds for value in slipway[key]]

    print("Where a Slipway run's time goes (the runs' own timestamps, all rounds):\n")
    print(f"| {'phase':<44} | {'median s':>8} | {'p90 s':>6} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 8}|")
    for label, key in (
        ("queued: request to a worker starting it", "queued"),
        ("in the worker: claim to finished", "in_worker"),
        ("a worker's gap: one run finished -> next begun", "gaps"),
    ):
        values = sorted(pooled(key))
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        print(f"| {label:<44} | {statistics.median(values):>8.3f} | {p90:>6.3f} |")
    xacts = statistics.median(slipway["xacts"] for slipway, _ in rounds)
    rows = statistics.median(slipway["rows"] for slipway, _ in rounds)
    print(f"\ndatabase work per run (median of rounds): {xacts:.0f} transactions, {rows:.0f} rows written")
    print("\nCPU seconds per run, by process group (median of rounds; both cores count, so a side that keeps both")
    print("busy finishes its runs in about half its CPU seconds):\n")
    print(f"| {'process group':<60} | {'Slipway':>7} | {'raw':>5} |")
    print(f"|{'-' * 62}|{'-' * 9}|{'-' * 7}|")
    totals = [0.0, 0.0]
    for group in rounds[0][0]["cpu"]:
        values = [statistics.median(side["cpu"][group] for side in sides) for sides in zip(*rounds, strict=True)]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        print(f"| {group:<60} | {values[0]:>7.2f} | {values[1]:>5.2f} |")
    print(f"| {'all':<60} | {totals[0]:>7.2f} | {totals[1]:>5.2f} |")


if __name__ == "__main__":
    main()
