"""Benchmark: the cost of every deployment summed per team (and per environment), as the costs page, the
API and ``slipway costs`` compute it.

    .venv/bin/python bench/costs.py [--deployments 10000] [--teams 20] [--runs 20]

Uses its own PostgreSQL database (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/slipway_bench_costs``): creates it, migrates it, publishes the catalog
(its 2.4.0 versions carry cost models) and fills it with set-based SQL: ``--deployments`` postgres
deployments across ``--teams`` teams (3 projects each, 3 environments per project), with sizes, storage,
backups and high availability spread out. Each deployment's ``monthly_cost`` is then set by the one
estimate function (``BundleVersion.monthly_estimate``), once per distinct params, as saving would, and
one history row per deployment is written at the start of the month, so the "what grew" query reads a
real history.

It times, median and p95 of ``--runs``, through ``deployments.costs.selectors``:

- ``totals_now(by=team)``: what each team costs now. Goal at 10,000 deployments: < 200 ms;
- ``cost_groups(by=team)``: the same beside the start of the month (the history's as-of), what the page shows;
- ``totals_now(by=environment)`` and ``biggest`` (the ten most expensive).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import ROOT, setup

URL = setup("postgres://postgres@127.0.0.1:5432/slipway_bench_costs")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bundles.models import BundleVersion  # noqa: E402
from deployments.costs.selectors import biggest, cost_groups, month_start, totals_now  # noqa: E402
from deployments.models import Deployment, Environment, Project  # noqa: E402
from portal.models import Team  # noqa: E402

SIZES = ["small", "medium", "large", "xlarge"]


def generate(n: int, teams: int) -> None:
    print(f"generating {n} deployments across {teams} teams ...", flush=True)
    call_command("migrate", verbosity=0)
    call_command("sync_bundles", str(ROOT / "bundles" / "catalog"), stdout=io.StringIO())
    version = BundleVersion.objects.get(bundle__name="postgres", version="2.4.0")
    with connection.cursor() as c:
        c.execute("TRUNCATE deployments_deployment, deployments_historicaldeployment CASCADE")
    envs = []
    for t in range(teams):
        team, _ = Team.objects.get_or_create(slug=f"team-{t}", defaults={"name": f"Team {t}"})
        for p in range(3):
            project, _ = Project.objects.get_or_create(slug=f"t{t}-p{p}", defaults={"name": f"P{p}", "team": team})
            for tier in ("prototype", "staging", "production"):
                envs.append(
                    Environment.objects.get_or_create(
                        project=project, slug=tier, defaults={"name": tier, "tier": tier}
                    )[0].pk
                )
    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO deployments_deployment
              (id, environment_id, name, bundle_version_id, params, outputs, connections, status, version,
               cost_currency, created_at, updated_at)
            SELECT md5(i::text)::uuid,
                   (%(envs)s::int[])[1 + i %% array_length(%(envs)s::int[], 1)],
                   'db-' || i,
                   %(version)s,
                   jsonb_build_object(
                     'size', (%(sizes)s::text[])[1 + i %% 4],
                     'storage_gb', 20 + (i * 37) %% 1000,
                     'backup_retention_days', 1 + i %% 35,
                     'high_availability', i %% 3 = 0),
                   '{}'::jsonb, '{}'::jsonb, 'live', 1, '', now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"envs": envs, "version": version.pk, "sizes": SIZES, "n": n},
        )
    # The one estimate function, once per distinct params (as Deployment.save() would set it).
    distinct = Deployment.objects.values_list("params", flat=True).distinct()
    with connection.cursor() as c:
        for params in distinct:
            estimate = version.monthly_estimate(params)
            c.execute(
                "UPDATE deployments_deployment SET monthly_cost = %s, cost_currency = %s WHERE params = %s::jsonb",
                [estimate.amount, estimate.currency, __import__("json").dumps(params)],
            )
        # One history row each at the start of the month, 10% cheaper, so something grew.
        c.execute(
            """
            INSERT INTO deployments_historicaldeployment
              (id, environment_id, name, bundle_version_id, params, outputs, connections, status, version,
               monthly_cost, cost_currency, created_by_id, created_at, history_date, history_type,
               history_change_reason, scope_team_id, scope_team, scope_project_id, scope_project,
               scope_environment_id, scope_environment, scope_tier, history_channel, history_actor,
               history_request_id, history_basis)
            SELECT d.id, d.environment_id, d.name, d.bundle_version_id, d.params, d.outputs, d.connections, d.status,
                   d.version, round(d.monthly_cost * 0.9, 2), d.cost_currency, NULL, d.created_at, %(at)s, '+', '',
                   t.id, t.slug, p.id, p.slug, e.id, e.slug, e.tier, 'system', 'bench', '', 'bench'
            FROM deployments_deployment d JOIN deployments_environment e ON e.id = d.environment_id
              JOIN deployments_project p ON p.id = e.project_id JOIN portal_team t ON t.id = p.team_id
            """,
            {"at": month_start()},
        )
    connection.cursor().execute("ANALYZE")


def timed(fn, runs: int) -> tuple[float, float, object]:
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    generate(args.deployments, args.teams)
    everything = Deployment.objects.all()
    cases = [
        ("totals_now by team (goal < 200 ms)", lambda: totals_now(everything, "team")),
        ("cost_groups by team, with month start", lambda: cost_groups(everything, "team")),
        ("totals_now by environment", lambda: totals_now(everything, "environment")),
        ("biggest 10", lambda: biggest(everything)),
    ]
    print(f"\n{args.deployments} deployments, {args.teams} teams, {args.runs} runs each ({URL.rsplit('/', 1)[-1]})")
    print(f"{'query':42} {'median ms':>10} {'p95 ms':>10} {'rows':>6}")
    for name, fn in cases:
        median, p95, result = timed(fn, args.runs)
        print(f"{name:42} {median:10.1f} {p95:10.1f} {len(result):6}")


if __name__ == "__main__":
    main()
