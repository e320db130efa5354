"""Benchmark: the estate as of T and the estate diff T1 -> T2 on 100k deployments / 1M history rows.

    .venv/bin/python bench/audit_diff.py [--deployments 100000] [--versions 10] [--keep]

Uses its own PostgreSQL database (``slipway_bench_audit`` on the server of ``BENCH_DATABASE_URL``,
default ``postgres://postgres@127.0.0.1:5432/slipway_bench_audit``): creates it, migrates it, fills
it with set-based SQL (generate_series, not the ORM row by row), then times the selectors the
reviewer pages and the API use, median of 5, and prints the table and the plans that matter.
Goals (issue 18): the as-of page under 200 ms, the full 30-day diff and the rest under 1 s.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import filler, setup

URL = setup("postgres://postgres@127.0.0.1:5432/slipway_bench_audit")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from audit.selectors import EstateFilters, estate_as_of, estate_diff  # noqa: E402

DAY = timedelta(days=1)


def insert_select(table: str, values: dict[str, str], source: str) -> None:
    values = {**filler(table, set(values)), **values}
    columns = ", ".join(values)
    expressions = ",\n  ".join(f"{expr} AS {name}" for name, expr in values.items())
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns})\nSELECT\n  {expressions}\n{source}")


def generate(deployments: int, versions: int, start) -> None:
    """Teams, projects, environments, bundles, then deployments, their history and runs, in SQL."""
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE audit_auditevent, audit_deploymentspan, deployments_historicaldeployment, deployments_run, "
            "deployments_deployment, deployments_environment, deployments_project, bundles_bundleversion, "
            "bundles_bundle, portal_team RESTART IDENTITY CASCADE"
        )
    insert_select(
        "portal_team",
        {"slug": "'team-' || g", "name": "'Team ' || g", "description": "''", "created_at": "now()"},
        "FROM generate_series(1, 20) g",
    )
    insert_select(
        "deployments_project",
        {"slug": "'project-' || g", "name": "'Project ' || g", "team_id": "1 + g % 20", "description": "''"},
        "FROM generate_series(1, 200) g",
    )
    insert_select(
        "deployments_environment",
        {
            "project_id": "1 + (g - 1) / 3",
            "slug": "(ARRAY['proto','staging','production'])[1 + g % 3]",
            "name": "'env ' || g",
            "tier": "(ARRAY['prototype','staging','production'])[1 + g % 3]",
        },
        "FROM generate_series(1, 600) g",
    )
    insert_select(
        "bundles_bundle",
        {"name": "'bundle-' || g", "title": "'Bundle ' || g", "owner": "'ops'"},
        "FROM generate_series(1, 8) g",
    )
    insert_select(
        "bundles_bundleversion",
        {
            "bundle_id": "1 + (g - 1) / 3",
            "version": "'1.' || ((g - 1) % 3) || '.0'",
            "major": "1",
            "minor": "(g - 1) % 3",
            "prerelease": "'~'",
            "module_sha256": "md5(g::text)",
            "manifest_sha256": "md5(g::text)",
        },
        "FROM generate_series(1, 24) g",
    )
    params = (
        "jsonb_build_object('instance_size', (ARRAY['small','medium','large'])[1 + (d + k) % 3], "
        "'storage', jsonb_build_object('size_gb', 20 * (1 + k), 'encrypted', (d + k) % 5 <> 0), "
        "'tags', jsonb_build_object('team', 'team-' || d % 20, 'rev', k::text), "
        "'zones', to_jsonb((ARRAY['a', 'b', 'c'])[1:1 + k % 3]))"
    )
    # Deployment d is created at a point of the year; its versions follow at intervals.
    created = f"'{start.isoformat()}'::timestamptz + (d % 365) * interval '1 day' + (d % 86400) * interval '1 second'"
    when = f"({created}) + (k - 1) * interval '2 days' + (k * 37 % 600) * interval '1 second'"
    insert_select(
        "deployments_deployment",
        {
            "id": "md5('dep' || d)::uuid",
            "environment_id": "1 + d % 600",
            "name": "'dep-' || d",
            "bundle_version_id": f"1 + (d % 8) * 3 + ({versions} / 4) % 3",
            "params": f"{params.replace('k', str(versions))}",
            "outputs": "'{}'::jsonb",
            "status": "'live'",
            "version": str(versions),
            "created_at": created,
            "updated_at": "now()",
        },
        f"FROM generate_series(1, {deployments}) d",
    )
    # Where deployment d stands: environment 1 + d % 600, its project and team as generated above.
    env = "(1 + d % 600)"
    project = f"(1 + ({env} - 1) / 3)"
    team = f"(1 + {project} % 20)"
    insert_select(
        "deployments_historicaldeployment",
        {
            "id": "md5('dep' || d)::uuid",
            "environment_id": "1 + d % 600",
            "name": "'dep-' || d",
            "bundle_version_id": "1 + (d % 8) * 3 + (k / 4) % 3",
            "params": params,
            "outputs": "'{}'::jsonb",
            "status": "CASE WHEN k = 1 THEN 'deploying' ELSE 'live' END",
            "version": "k",
            "created_at": created,
            "history_date": when,
            "history_change_reason": "''",
            "history_channel": "(ARRAY['ui','api','ui','bulk'])[1 + (d + k) % 4]",
            "history_actor": "'dev' || d % 50",
            "history_type": "CASE WHEN k = 1 THEN '+' ELSE '~' END",
            "scope_team_id": team,
            "scope_team": f"'team-' || {team}",
            "scope_project_id": project,
            "scope_project": f"'project-' || {project}",
            "scope_environment_id": env,
            "scope_environment": f"(ARRAY['proto','staging','production'])[1 + {env} % 3]",
            "scope_tier": f"(ARRAY['prototype','staging','production'])[1 + {env} % 3]",
        },
        f"FROM generate_series(1, {deployments}) d, generate_series(1, {versions}) k",
    )
    insert_select(
        "deployments_run",
        {
            "deployment_id": "md5('dep' || d)::uuid",
            "action": "'apply'",
            "status": "CASE WHEN (d + k) % 17 = 0 THEN 'failed' ELSE 'succeeded' END",
            "bundle_version_id": "1 + (d % 8) * 3 + (k / 4) % 3",
            "params": params,
            "requested_by_name": "'dev' || d % 50",
            "channel": "'ui'",
            "approval_basis": "CASE WHEN (d + k) % 3 = 0 THEN '' ELSE 'policy:' || (d % 3) END",
            "created_at": f"{when} + interval '1 millisecond'",
            "finished_at": f"{when} + interval '30 seconds'",
        },
        f"FROM generate_series(1, {deployments}) d, generate_series(1, {versions}) k",
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"generated in {time.perf_counter() - t0:.1f} s")


def median_of(fn, n: int = 5) -> tuple[float, object]:
    """As a web process serves it: the previous answer gone before the next is read (a diff's 200k objects
    otherwise stay for the cyclic collector to walk), the start-up heap frozen as portal/wsgi.py freezes it."""
    times, result = [], None
    for _ in range(n):
        result = None
        gc.collect()
        gc.freeze()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployments", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=10, help="history rows per deployment")
    parser.add_argument("--keep", action="store_true", help="reuse the data already generated")
    args = parser.parse_args()
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - t0:.1f} s (audit 0008 fills the as-of spans of the rows already there)")
    with connection.cursor() as cursor:  # what autovacuum does after a bulk insert: index-only scans need it
        cursor.execute("VACUUM ANALYZE audit_deploymentspan")
    start = timezone.now().replace(microsecond=0) - timedelta(days=400)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM deployments_historicaldeployment")
        have = cursor.fetchone()[0]
    if not args.keep or have != args.deployments * args.versions:
        generate(args.deployments, args.versions, start)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(history_date), count(*) FROM deployments_historicaldeployment")
        first, rows = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM deployments_deployment")
        deployment_count = cursor.fetchone()[0]
    t_mid = first + 200 * DAY
    t1, t2 = first + 170 * DAY, first + 200 * DAY
    prod = EstateFilters(tier="production", team="team-3")

    def as_of_page():
        qs = estate_as_of(t_mid)
        return qs.count(), list(qs[:100])

    def as_of_all():
        return sum(
            1
            for _ in estate_as_of(t_mid)
            .values_list("id", "bundle_version_id", "status", "params")
            .iterator(chunk_size=5000)
        )

    def diff_page(filters=None):
        """What the diff page and the API do: the diff, its counts, the runs of the 50 entries shown."""
        diff = estate_diff(t1, t2, filters or EstateFilters())
        diff.counts()
        diff.load_runs(diff.entries[:50])
        return diff

    def diff_all_runs():
        """What the exports do: the diff with every entry's runs."""
        return estate_diff(t1, t2, runs=True)

    cases = [
        ("as-of T: page (count + first 100)", as_of_page, 0.2),
        ("as-of T: every deployment (ids, version, status, params)", as_of_all, 1.0),
        ("as-of T: production of one team, page", lambda: list(estate_as_of(t_mid, prod)[:100]), 1.0),
        ("diff T1->T2 (30 days): full, per-key changes, counts, 1st page's runs", lambda: diff_page(), 1.0),
        ("diff T1->T2 (30 days): full, every entry's runs read (exports)", lambda: diff_all_runs(), 1.0),
        ("diff T1->T2 (30 days): production of one team", lambda: diff_page(prod), 1.0),
    ]
    print(
        f"\n{deployment_count:,} deployments, {rows:,} history rows; "
        f"T = {t_mid:%Y-%m-%d}, window {t1:%Y-%m-%d} -> {t2:%Y-%m-%d}\n"
    )
    print(f"{'query':62} {'median s':>9} {'goal s':>7}  result")
    print("-" * 110)
    for label, fn, goal in cases:
        seconds, result = median_of(fn)
        if hasattr(result, "counts"):
            shown = ", ".join(f"{k}={v}" for k, v in result.counts().items())
        elif isinstance(result, tuple):
            shown = f"{result[0]:,} deployments"
        elif isinstance(result, list):
            shown = f"{len(result)} rows"
        else:
            shown = f"{result:,} rows"
        print(f"{label:62} {seconds:9.3f} {goal:7.1f}  {'met' if seconds < goal else 'MISSED'} · {shown}")

    spans = estate_as_of(t_mid)._as_built()  # the side-table query the page counts and sorts on
    print("\n--- plan: as-of T, the count on the side table (SP-GiST index only) ---")
    with connection.cursor() as cursor:
        sql, params = spans.order_by().values("history_id").query.sql_with_params()
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) s", params)
        print("\n".join(row[0] for row in cursor.fetchall()))
    print("\n--- plan: as-of T, the first page's ids on the side table ---")
    print(spans.values("history_id")[:100].explain(analyze=True, buffers=True))
    print("\n--- plan: diff, both states of the deployments touched in the window (one LATERAL query) ---")
    from django.test.utils import CaptureQueriesContext

    from audit.selectors.estate import HistoricalDeployment, _planner_for_many_probes, _states

    touched = HistoricalDeployment.objects.filter(history_date__gt=t1, history_date__lte=t2).values("id").distinct()
    with _planner_for_many_probes(), CaptureQueriesContext(connection) as ctx:
        _states(touched.order_by(), t1, t2)
        sql = ctx.captured_queries[-1]["sql"]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
