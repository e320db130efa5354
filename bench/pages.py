"""Benchmark: pages and API lists as gunicorn serves them, at 100k deployments / 1M history rows.

    .venv/bin/python bench/pages.py [--requests 50] [--keep] [--port 8765]

Uses its own database (``slipway_bench_pages`` on the server of ``BENCH_DATABASE_URL``), filled by the
audit benchmark's generator (``bench/audit_diff.py``: 100k deployments, 1M history rows, 1M runs), then adds
what the pages need: a reviewer and an ops user, one deployment with 2,000 runs and 500 history
rows, one run with 10,000 log lines. It starts gunicorn (DEBUG off, 2 workers) on that database,
warms each URL, then times ``--requests`` requests per URL (p50 and p95, ms) with a signed-in
session. Goal (issue 18): every page p95 < 100 ms; it prints met/MISSED per page.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

SECRET = "bench-pages-secret-key-not-for-production-0123456789"
os.environ["SECRET_KEY"] = SECRET  # the sessions made here are signed with the server's key

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import ROOT, filler, setup  # noqa: E402

URL = setup("postgres://postgres@127.0.0.1:5432/slipway_bench_pages")

import requests  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from deployments.models import Deployment, Run  # noqa: E402

GOAL_MS = 100
BIG = "md5('dep' || 1)::uuid"  # deployment d-1 gets the 2,000 runs and 500 history rows


def extras() -> None:
    """The busy deployment's extra runs and history rows and the long run's log lines, in SQL."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM deployments_run WHERE deployment_id = {BIG}")
        if cursor.fetchone()[0] >= 2000:
            return
    t0 = time.perf_counter()
    runs = {
        "deployment_id": BIG,
        "action": "'apply'",
        "status": "'succeeded'",
        "bundle_version_id": "1",
        "params": "'{}'::jsonb",
        "requested_by_name": "'dev1'",
        "channel": "'ui'",
        "created_at": "now() - g * interval '1 hour'",
        "finished_at": "now() - g * interval '1 hour' + interval '30 seconds'",
    }
    runs = {**filler("deployments_run", set(runs)), **runs}
    history = {
        "id": BIG,
        "environment_id": "2",
        "name": "'dep-1'",
        "bundle_version_id": "1",
        "params": "jsonb_build_object('instance_size', 'small', 'rev', g)",
        "outputs": "'{}'::jsonb",
        "status": "'live'",
        "version": "100 + g",
        "created_at": "now() - interval '400 days'",
        "history_date": "now() - (500 - g) * interval '10 minutes'",
        "history_change_reason": "''",
        "history_channel": "'ui'",
        "history_actor": "'dev1'",
        "history_type": "'~'",
        "scope_team_id": "1",
        "scope_team": "'team-1'",
        "scope_project_id": "1",
        "scope_project": "'project-1'",
        "scope_environment_id": "2",
        "scope_environment": "'staging'",
        "scope_tier": "'staging'",
    }
    history = {**filler("deployments_historicaldeployment", set(history)), **history}
    with connection.cursor() as cursor:
        for table, values, count in (
            ("deployments_run", runs, 2000),
            ("deployments_historicaldeployment", history, 500),
        ):
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(values)}) SELECT {', '.join(values.values())} "
                f"FROM generate_series(1, {count}) g"
            )
        cursor.execute(f"SELECT max(id) FROM deployments_run WHERE deployment_id = {BIG}")
        run_id = cursor.fetchone()[0]
        lines = {
            "run_id": str(run_id),
            "seq": "g",
            "stream": "'stdout'",
            "level": "'info'",
            "text": "'aws_db_instance.main: Still creating... [' || g || 's elapsed]'",
            "created_at": "now()",
        }
        lines = {**filler("deployments_runlogline", set(lines)), **lines}
        cursor.execute(
            f"INSERT INTO deployments_runlogline ({', '.join(lines)}) SELECT {', '.join(lines.values())} "
            "FROM generate_series(1, 10000) g"
        )
        cursor.execute("ANALYZE deployments_run, deployments_historicaldeployment, deployments_runlogline")
    print(f"extras generated in {time.perf_counter() - t0:.1f} s")


def session_for(username: str, groups: tuple[str, ...] = (), staff: bool = False) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": staff})
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="reuse the data already generated")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM deployments_historicaldeployment")
        have = cursor.fetchone()[0]
    if not args.keep or have < 1_000_000:
        import audit_diff

        audit_diff.generate(100_000, 10, timezone.now().replace(microsecond=0) - timedelta(days=400))
    extras()
    from portal.roles import COMPLIANCE_GROUP, OPS_GROUP

    ops_session = session_for("bench-ops", groups=(OPS_GROUP,), staff=True)
    reviewer_session = session_for("bench-reviewer", groups=(COMPLIANCE_GROUP,), staff=True)
    big = Deployment.objects.get(name="dep-1")
    long_run = Run.objects.filter(deployment=big).order_by("-id").first()
    at = quote((timezone.now() - timedelta(days=200)).isoformat())  # its "+00:00" kept as written
    pages = [
        ("overview", "/", ops_session),
        ("deployments list, first page", "/deployments/", ops_session),
        ("deployments list, filtered", "/deployments/?q=dep-12", ops_session),
        ("deployments list, page 1000", "/deployments/?page=1000", ops_session),
        ("deployment with 2,000 runs", f"/deployments/{big.pk}/", ops_session),
        ("run with 10,000 log lines", f"/deployments/runs/{long_run.pk}/", ops_session),
        ("estate page with a query", "/deployments/estate/?q=params.instance_size:large", ops_session),
        ("audit timeline", "/audit/", reviewer_session),
        ("as-of", f"/audit/as-of/?at={at}", reviewer_session),
        ("a deployment's history", f"/audit/deployments/{big.pk}/history/", reviewer_session),
        ("API deployments list", "/api/v1/deployments/", ops_session),
        ("API runs list", "/api/v1/runs/", ops_session),
    ]
    env = {
        **os.environ,
        "DATABASE_URL": URL,
        "DEBUG": "0",
        "SECRET_KEY": SECRET,
        "SLIPWAY_ENCRYPTION_KEY": base64.urlsafe_b64encode(hashlib.sha256(SECRET.encode()).digest()).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SLIPWAY_TLS": "off",  # plain http on the loopback: no redirect to https, no secure-only cookies
    }
    # DEBUG off serves hashed static files: collect them (into var/, as `make run` would) first.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "portal.wsgi:application", "--bind", f"127.0.0.1:{args.port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(120):  # until gunicorn answers (healthz also asks the broker: any answer will do)
            try:
                requests.get(f"{base}/healthz", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.5)
        print(f"\n{'page':34} {'status':>6} {'p50 ms':>8} {'p95 ms':>8}  goal p95 < {GOAL_MS} ms")
        print("-" * 80)
        missed = 0
        for label, path, session in pages:
            http = requests.Session()
            http.cookies.set("sessionid", session)
            for _ in range(3):  # warm: both workers, their connections and caches
                response = http.get(base + path, timeout=120, allow_redirects=False)
            samples = []
            for _ in range(args.requests):
                start = time.perf_counter()
                response = http.get(base + path, timeout=120, allow_redirects=False)
                samples.append((time.perf_counter() - start) * 1000)
            p50, p95 = statistics.median(samples), percentile(samples, 0.95)
            ok = p95 < GOAL_MS and response.status_code == 200
            missed += not ok
            print(f"{label:34} {response.status_code:>6} {p50:8.1f} {p95:8.1f}  {'met' if ok else 'MISSED'}")
        print(f"\n{len(pages) - missed} of {len(pages)} pages met the goal.")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
