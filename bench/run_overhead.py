"""Run overhead: a deploy through Slipway versus the raw engine, and queued-run throughput.

    .venv/bin/python bench/run_overhead.py [--runs 10] [--queued 50] [--workers 2] [--redis-db 9]

Needs PostgreSQL and Redis on 127.0.0.1 and the engine on PATH. It (re)creates its own database,
``BENCH_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/slipway_bench_runs), and uses Redis
db ``--redis-db`` (default 9). It starts a web server and Celery workers itself, then prints:

1. the median wall time of a deploy through Slipway, from the API request to the outputs stored,
   next to the median of raw `init` + `plan -out` + `apply` on the same module in a temp
   directory, and the ratio; then where a deploy's time goes, per phase, from the run's stored
   timestamps (created, started, finished) and its log lines' (the ``$ tofu ...`` line of each command);
2. the time to finish N deploys queued at once with W workers, as runs per minute.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bundles.loader import find_bundles  # plain Python: needs no Django set-up

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/slipway_bench_runs"
BUNDLE = "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def engine() -> str:
    return os.environ.get("SLIPWAY_TOFU_BINARY") or shutil.which("tofu") or shutil.which("terraform")


def manage(env, *args) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def start(env, args, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


PHASES: dict[str, list[float]] = {
    "queued: request to a worker starting the run": [],
    "in the worker: unpack, engine, state, outputs": [],
    "  set-up: inputs, module unpacked, work dir": [],
    "  init (or the initialised template reused)": [],
    "  plan": [],
    "  show -json, summary, redaction, stored": [],
    "  gate, then apply (to its last log line)": [],
    "  after apply: outputs stored, run finished": [],
}
RUN_IDS: list[int] = []
RAW_PHASES: dict[str, list[float]] = {"raw init": [], "raw plan": [], "raw apply": []}


def phase_breakdown(db_url: str) -> None:
    """Each single run's phases, from its own stored timestamps and log lines (read from the bench database).

    A command's start is its ``$ <engine> <command>`` system line; the plan's end is its last engine line
    before the run's ``Plan: ...`` sentence (which follows the summary stored), the apply's end its last line.
    """
    import psycopg

    with psycopg.connect(db_url) as conn:
        for run_id in RUN_IDS:
            started, finished = conn.execute(
                "SELECT started_at, finished_at FROM deployments_run WHERE id = %s", (run_id,)
            ).fetchone()
            lines = conn.execute(
                "SELECT stream, text, created_at FROM deployments_runlogline WHERE run_id = %s ORDER BY seq",
                (run_id,),
            ).fetchall()

            def system_line(test, lines=lines):
                return next((c for s, t, c in lines if s == "system" and test(t)), None)

            init_at = system_line(lambda t: (t.startswith("$ ") and " init " in t) or t.startswith("init: reused"))
            plan_at = system_line(lambda t: t.startswith("$ ") and " plan " in t)
            sentence_at = next(c for s, t, c in lines if s == "system" and t.startswith("Plan: ") and c >= plan_at)
            apply_at = system_line(lambda t: t.startswith("$ ") and " apply " in t)
            plan_end = max((c for s, _, c in lines if s != "system" and plan_at <= c <= sentence_at), default=plan_at)
            apply_end = max((c for s, _, c in lines if s != "system" and c >= apply_at), default=apply_at)
            set_up_end = init_at or plan_at
            values = {
                "  set-up: inputs, module unpacked, work dir": set_up_end - started,
                "  init (or the initialised template reused)": plan_at - set_up_end,
                "  plan": plan_end - plan_at,
                "  show -json, summary, redaction, stored": sentence_at - plan_end,
                "  gate, then apply (to its last log line)": apply_end - sentence_at,
                "  after apply: outputs stored, run finished": finished - apply_end,
            }
            for label, delta in values.items():
                PHASES[label].append(delta.total_seconds())


def preset_params(api, base) -> dict:
    latest = api.get(f"{base}/api/v1/bundles/{BUNDLE}/", timeout=10).json()["latest"]
    return next(p for p in latest["presets"] if p["name"].startswith("Prototype"))["params"]


def deploy_and_wait(api, base, environment: int, name: str, params: dict) -> float:
    """Seconds from the API request to the outputs stored; the run's own timestamps go to ``PHASES``."""
    started = time.perf_counter()
    response = api.post(
        f"{base}/api/v1/deployments/",
        json={"environment": environment, "name": name, "bundle": BUNDLE, "params": params},
        timeout=30,
    )
    response.raise_for_status()
    deployment_id = response.json()["id"]
    while True:
        body = api.get(f"{base}/api/v1/deployments/{deployment_id}/", timeout=10).json()
        if body["status"] == "live" and body["outputs"]:
            elapsed = time.perf_counter() - started
            run = api.get(f"{base}/api/v1/runs/{body['latest_run']}/", timeout=10).json()
            created, begun, ended = (
                datetime.fromisoformat(run[k]) for k in ("created_at", "started_at", "finished_at")
            )
            PHASES["queued: request to a worker starting the run"].append((begun - created).total_seconds())
            PHASES["in the worker: unpack, engine, state, outputs"].append((ended - begun).total_seconds())
            RUN_IDS.append(run["id"])
            return elapsed
        if body["status"] == "failed":
            raise RuntimeError(f"{name} failed")
        time.sleep(0.05)


def raw_engine_once(module_tar: Path, params: dict, engine_env: dict) -> float:
    """The same module run by hand: the catalog's is on the sandbox cloud, so the engine gets the sandbox
    provider's folder and endpoint (``engine_env``) as Slipway's runs do, and a fresh name each time."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.unpack_archive(module_tar, work)
        context = {
            "deployment_id": "bench",
            "name_prefix": f"bench-raw-{work.name}",
            "project": "bench",
            "environment": "proto",
            "tier": "prototype",
            "team": "bench",
            "tags": {},
        }
        (work / "terraform.tfvars.json").write_text(json.dumps({**params, "slipway": context}))
        rc = work / "tfrc"
        rc.write_text(engine_env["tfrc"])
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": str(rc)}
        env.update(SANDBOX_ENDPOINT=engine_env["endpoint"], SANDBOX_TOKEN=engine_env["token"])
        started = time.perf_counter()
        for args in (["init", "-input=false"], ["plan", "-input=false", "-out=plan.bin"], ["apply", "plan.bin"]):
            began = time.perf_counter()
            done = subprocess.run([engine(), *args], cwd=work, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"raw `{' '.join(args)}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
            RAW_PHASES[f"raw {args[0]}"].append(time.perf_counter() - began)
        return time.perf_counter() - started


# As deployed: DEBUG off (no query log in every process, hashed static files), with the keys it then needs;
# plain http on the loopback.
BENCH_SECRET = "bench-runs-secret-key-not-for-production-0123456789"
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": BENCH_SECRET,
    "SLIPWAY_ENCRYPTION_KEY": base64.urlsafe_b64encode(hashlib.sha256(BENCH_SECRET.encode()).digest()).decode(),
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SLIPWAY_TLS": "off",
}


def ready(base: str, token: str, env: dict, work: Path) -> tuple:
    """Once the web server answers (and the workers had a moment to start): a signed-in API session, the
    prototype environment, the bundle's preset params, the module as an archive for the raw engine and the
    raw engine's settings (the CLI config of the sandbox provider's mirror, its endpoint and token)."""
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if api.get(f"{base}/healthz", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    time.sleep(3)  # workers ready
    environment = api.get(f"{base}/api/v1/environments/", params={"tier": "prototype"}, timeout=10).json()["results"][
        0
    ]["id"]
    params = preset_params(api, base)
    module_tar = work / "module.tar.gz"
    module_src = find_bundles(ROOT / "bundles" / "catalog" / BUNDLE)[-1] / "src"  # the newest version
    shutil.make_archive(str(module_tar).removesuffix(".tar.gz"), "gztar", module_src)
    raw_env = {
        "tfrc": (
            'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n'
            '    include = ["slipway.local/*/*"]\n  }\n  direct {\n    exclude = ["slipway.local/*/*"]\n  }\n}\n'
        )
        % (work / "providers"),
        "endpoint": f"{base}/sandbox/api/v1/",
        # The last line: `shell` may print a banner first.
        "token": manage(env, "shell", "-c", "from django.conf import settings; print(settings.SLIPWAY_SANDBOX_TOKEN)")
        .strip()
        .splitlines()[-1],
    }
    return api, environment, params, module_tar, raw_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--queued", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=9, help="the Redis database of its broker (flushed)")
    opts = parser.parse_args()

    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL)
    server, db_name = db_url.rsplit("/", 1)
    admin = f"{server}/postgres"
    subprocess.run(["dropdb", "--if-exists", "--maintenance-db", admin, db_name], check=True)
    subprocess.run(["createdb", "--maintenance-db", admin, db_name], check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
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
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--password", "bench-password")
    token = manage(env, "create_api_token", "ops").strip()
    procs = [
        start(
            env,
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "2",
                "--threads",
                "4",
            ],
            work / "web.log",
        ),
    ]
    for index in range(opts.workers):
        procs.append(
            start(
                env,
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--concurrency=1",
                    "-n",
                    f"bench{index}@%h",
                    "--loglevel=WARNING",
                ],
                work / f"worker{index}.log",
            )
        )
    try:
        api, environment, params, module_tar, raw_env = ready(base, token, env, work)

        deploy_and_wait(api, base, environment, "warmup", params)
        for values in PHASES.values():
            values.clear()
        RUN_IDS.clear()
        raw_engine_once(module_tar, params, raw_env)
        for values in RAW_PHASES.values():
            values.clear()
        slipway = [deploy_and_wait(api, base, environment, f"single-{i}", params) for i in range(opts.runs)]
        raw = [raw_engine_once(module_tar, params, raw_env) for _ in range(opts.runs)]
        phase_breakdown(db_url)

        started = time.perf_counter()
        ids = []
        for i in range(opts.queued):
            response = api.post(
                f"{base}/api/v1/deployments/",
                json={"environment": environment, "name": f"queued-{i}", "bundle": BUNDLE, "params": params},
                timeout=30,
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        pending = set(ids)
        while pending:
            for deployment_id in list(pending):
                status = api.get(f"{base}/api/v1/deployments/{deployment_id}/", timeout=10).json()["status"]
                if status in ("live", "failed"):
                    pending.discard(deployment_id)
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    med_s, med_r = statistics.median(slipway), statistics.median(raw)
    print(f"\nengine: {subprocess.run([engine(), 'version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    print(f"bundle: {BUNDLE} (Prototype preset), {opts.runs} runs each\n")
    print(f"| {'measure':<46} | {'median s':>9} | {'min s':>7} | {'max s':>7} |")
    print(f"|{'-' * 48}|{'-' * 11}|{'-' * 9}|{'-' * 9}|")
    for label, values in (
        ("Slipway: API request -> outputs stored", slipway),
        ("raw engine: init + plan + apply", raw),
    ):
        print(f"| {label:<46} | {statistics.median(values):>9.2f} | {min(values):>7.2f} | {max(values):>7.2f} |")
    print(f"| {'ratio (goal <= 1.5)':<46} | {med_s / med_r:>9.2f} | {'':>7} | {'':>7} |")
    print(f"\nratio {med_s / med_r:.2f}, goal <= 1.5: {'met' if med_s / med_r <= 1.5 else 'MISSED'}")
    print("\nWhere a Slipway deploy's time goes (from the run's own timestamps):\n")
    print(f"| {'phase':<46} | {'median s':>9} | {'min s':>7} | {'max s':>7} |")
    print(f"|{'-' * 48}|{'-' * 11}|{'-' * 9}|{'-' * 9}|")
    for label, values in {**PHASES, **RAW_PHASES}.items():
        print(f"| {label:<46} | {statistics.median(values):>9.2f} | {min(values):>7.2f} | {max(values):>7.2f} |")
    print(f"\n| {'throughput':<46} | {'value':>9} |")
    print(f"|{'-' * 48}|{'-' * 11}|")
    print(f"| {f'{opts.queued} deploys queued at once, {opts.workers} workers (s)':<46} | {elapsed:>9.1f} |")
    print(f"| {'runs per minute':<46} | {opts.queued / elapsed * 60:>9.1f} |")


if __name__ == "__main__":
    main()
