"""Benchmark: the estate as a database versus the same configurations in a Git repository.

    .venv/bin/python bench/estate_query.py [--deployments 100000] [--runs 20] [--keep] [--skip-gitops]

Uses its own PostgreSQL database (``slipway_bench_estate`` on the server of ``BENCH_DATABASE_URL``,
default ``postgres://postgres@127.0.0.1:5432/slipway_bench_estate``): creates it, migrates it and
fills it with set-based SQL (generate_series): 100k deployments across 6 bundles, each with an
indexed resource (as the state backend writes them). Then it times, median and p95 of ``--runs``:

- six representative estate queries through the same code as the page and the API (an ops reader; the total and
  the first page of 50, with their rows):
  equality, range, regex, nested path, OR, resource attribute, and three over connections (each "service"
  connected to a postgres, each postgres publishing a postgresql artifact): ``connected_to:NAME``,
  ``connected_to:PROJECT/ENV/NAME``, ``artifact.postgresql.specs.version:16``. Goal: p95 < 50 ms. Then
  each one's plans (the matches per environment, which give the total, and the page's keys; ``EXPLAIN
  ANALYZE``; ``--no-plans`` leaves them out);
- the bulk dry run's validation of every deployment's params against a new, stricter schema, the
  validator compiled once (``estate.validation.Validators``: the compiled Rust engine for pass/fail,
  jsonschema for the invalid ones' messages, worded once per distinct failing property value), loading the
  params included; it prints this process's CPU time beside the wall clock, and a digest of every message in
  order (the same before and after a change that must not alter them). Goal: < 3 s
  (``--validation-only`` times just this);
- the GitOps baseline: the same configurations as ``<project>/<env>/<name>/terraform.tfvars.json`` in a
  git repository (with a ``meta.json`` and a ``resources.json`` beside each, which is generous: in GitOps
  resource attributes live in remote state, not in the repository), the same questions answered by
  walking and parsing the files, and one history question ("how did this deployment's instance class
  change?") answered with ``git log``. It prints the ratio.
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import filler, setup

URL = setup("postgres://postgres@127.0.0.1:5432/slipway_bench_estate")

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bundles.models import Bundle, BundleVersion  # noqa: E402
from deployments.estate.query import PAGE_READ_SETTINGS, Matches, deployments_matching, row_prefetch  # noqa: E402
from deployments.estate.validation import Validators  # noqa: E402
from deployments.models import Deployment, Environment, Project  # noqa: E402
from portal.models import Team  # noqa: E402

BUNDLES = ["postgres", "redis", "bucket", "queue", "service", "cdn"]
TIERS = ["prototype", "staging", "production"]
QUERIES = [
    ("equality", "bundle:postgres params.instance_class:db.r6g.large"),
    ("range", "params.storage.size_gb>=900 env.tier:production"),
    ("regex", 'params.instance_class~"^db\\.r6g\\.(x|2x)large$"'),
    ("nested path", "params.storage.encrypted:false bundle:postgres"),
    ("OR", "(team:team-1 OR team:team-4) params.replicas>=4"),
    ("resource attribute", "resource.aws_db_instance.storage_encrypted:false env.tier:production"),
]

SCHEMA_V1 = {
    "type": "object",
    "additionalProperties": False,
    "required": ["instance_class"],
    "properties": {
        "instance_class": {"type": "string", "pattern": "^db\\.[a-z0-9]+\\.[a-z0-9]+$"},
        "replicas": {"type": "integer", "minimum": 0, "maximum": 10},
        "storage": {
            "type": "object",
            "properties": {"size_gb": {"type": "integer", "minimum": 10}, "encrypted": {"type": "boolean"}},
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
# The new version: storage must be encrypted, at most 8 replicas, a closed list of classes.
SCHEMA_V2 = json.loads(json.dumps(SCHEMA_V1))
SCHEMA_V2["properties"]["storage"]["properties"]["encrypted"] = {"const": True}
SCHEMA_V2["properties"]["storage"]["required"] = ["encrypted"]
SCHEMA_V2["properties"]["replicas"]["maximum"] = 8
SCHEMA_V2["properties"]["instance_class"]["enum"] = [
    f"db.{f}.{s}" for f in ("r6g", "m5", "t3") for s in ("large", "xlarge", "2xlarge")
]


def generate(n: int) -> None:
    print(f"generating {n} deployments ...", flush=True)
    call_command("migrate", verbosity=0)
    with connection.cursor() as c:
        c.execute("TRUNCATE deployments_deployment, deployments_stateresource CASCADE")
    teams = [Team.objects.get_or_create(slug=f"team-{i}", defaults={"name": f"Team {i}"})[0] for i in range(6)]
    envs = []
    for p in range(30):
        project, _ = Project.objects.get_or_create(
            slug=f"project-{p}", defaults={"name": f"P{p}", "team": teams[p % 6]}
        )
        for tier in TIERS:
            envs.append(
                Environment.objects.get_or_create(project=project, slug=tier, defaults={"name": tier, "tier": tier})[0]
            )
    versions = []
    for name in BUNDLES:
        bundle, _ = Bundle.objects.get_or_create(name=name, defaults={"title": name})
        for version, schema in (("1.0.0", SCHEMA_V1), ("2.0.0", SCHEMA_V2)):
            bv = BundleVersion.objects.filter(bundle=bundle, version=version).first()
            if bv is None:
                bv = BundleVersion(
                    bundle=bundle, version=version, params_schema=schema, module_archive=b"", module_sha256="0"
                )
                bv.manifest_sha256 = "0"
                bv.save()
            versions.append(bv)
    v1_ids = [v.pk for v in versions if v.version == "1.0.0"]
    env_ids = [e.pk for e in envs]
    with connection.cursor() as c:
        given = {
            "id": "md5(i::text)::uuid",
            "environment_id": "(%(envs)s::int[])[1 + i %% array_length(%(envs)s::int[], 1)]",
            "name": "'d-' || i",
            "bundle_version_id": "(%(versions)s::int[])[1 + (i / 7) %% 6]",
            "params": """jsonb_build_object(
                     'instance_class', 'db.' || (ARRAY['r6g','m5','t3','r5'])[1 + i %% 4] || '.'
                                       || (ARRAY['large','xlarge','2xlarge'])[1 + (i / 4) %% 3],
                     'replicas', i %% 11,
                     'storage', jsonb_build_object('size_gb', 10 + (i * 37) %% 1000, 'encrypted', i %% 5 <> 0),
                     'labels', jsonb_build_object('owner', 'o' || (i %% 50), 'cost', 'c' || (i %% 9)))""",
            "outputs": "jsonb_build_object('endpoint', 'd-' || i || '.internal')",
            "status": "'live'",
            "version": "1",
            "created_at": "now()",
            "updated_at": "now()",
        }
        values = {**filler("deployments_deployment", set(given)), **given}
        c.execute(
            f"INSERT INTO deployments_deployment ({', '.join(values)}) "
            f"SELECT {', '.join(values.values())} FROM generate_series(1, %(n)s) AS i",
            {"envs": env_ids, "versions": v1_ids, "n": n},
        )
        c.execute(
            """
            INSERT INTO deployments_stateresource (deployment_id, address, type, attributes)
            SELECT id, 'aws_db_instance.main', 'aws_db_instance',
                   jsonb_build_object('instance_class', params->>'instance_class',
                                      'storage_encrypted', (params->'storage'->'encrypted'),
                                      'allocated_storage', params->'storage'->'size_gb')
            FROM deployments_deployment
            """
        )
        wire(c, next(v.pk for v in versions if v.bundle.name == "postgres" and v.version == "1.0.0"))
    with connection.cursor() as c:  # what autovacuum does after a bulk insert (statistics, visibility map)
        c.execute("VACUUM ANALYZE")


def wire(c, postgres_version: int) -> None:
    """Connections and artifacts: each postgres publishes a postgresql artifact (a tenth of them twice, so the
    newest version is the one searched), and each "service" connects to the postgres of its environment nearest
    to it by number."""
    c.execute(
        """
        INSERT INTO deployments_artifact (deployment_id, name, type, type_version, serial, specs, digest, created_at)
        SELECT d.id, 'database', 'postgresql', '1.0.0', s.serial,
               jsonb_build_object(
                 'host', d.name || '.internal', 'port', 5432, 'database', 'app',
                 'version', (ARRAY['14', '15', '16'])[1 + (substr(d.name, 3)::int / 3 + s.serial) %% 3]),
               md5(d.name || s.serial), now()
        FROM deployments_deployment d
        CROSS JOIN LATERAL generate_series(1, CASE WHEN substr(d.name, 3)::int %% 10 = 0 THEN 2 ELSE 1 END) AS s(serial)
        WHERE d.bundle_version_id = %(pg)s
        """,
        {"pg": postgres_version},
    )
    c.execute(
        """
        UPDATE deployments_deployment s SET connections = jsonb_build_object('database', (
            SELECT p.id::text FROM deployments_deployment p
            WHERE p.environment_id = s.environment_id AND p.bundle_version_id = %(pg)s
            ORDER BY abs(substr(p.name, 3)::int - substr(s.name, 3)::int) LIMIT 1))
        WHERE s.bundle_version_id IN (SELECT id FROM bundles_bundleversion WHERE version = '1.0.0'
                                      AND bundle_id = (SELECT id FROM bundles_bundle WHERE name = 'service'))
        """,
        {"pg": postgres_version},
    )


def connection_queries() -> list[tuple[str, str]]:
    """``connected_to`` by name and by PROJECT/ENV/NAME (a producer that has consumers), and an artifact spec."""
    consumer = Deployment.objects.exclude(connections={}).select_related("environment__project").first()
    if consumer is None:
        return []
    producer = Deployment.objects.select_related("environment__project").get(pk=consumer.connections["database"])
    path = f"{producer.environment.project.slug}/{producer.environment.slug}/{producer.name}"
    return [
        ("connected_to", f"connected_to:{producer.name}"),
        ("connected_to path", f"connected_to:{path}"),
        ("artifact spec", "artifact.postgresql.specs.version:16 env.tier:production"),
    ]


def timed(fn, runs: int) -> tuple[float, float, object]:
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, result


@functools.cache
def reader():
    """An ops user, who reads the whole estate (the page's code, its visibility included)."""
    user, _ = User.objects.get_or_create(username="bench-reader", defaults={"is_superuser": True, "is_staff": True})
    return user


def matches(text: str) -> Matches:
    """What the estate page and API read for ``text``."""
    query, qs = deployments_matching(user=reader(), text=text)
    return Matches(qs, prefetch=row_prefetch(query.fields))


def page_of(text: str):
    """The total and the first page of 50, with their rows."""
    found = matches(text)
    return found.count(), found[0:50]


def plans(text: str) -> str:
    """The plans of the page's reads (EXPLAIN ANALYZE, without costs), indented: the matches per environment
    (the total) and the first page's keys. The page's rows are then read by key."""
    found = matches(text)
    out = []
    for label, read in (("total, per environment", found.per_environment_sql()), ("page", found.keys_sql(0, 50))):
        if read is None:
            continue
        found.count()
        with transaction.atomic(), connection.cursor() as cursor:  # planned as the page plans them
            cursor.execute(PAGE_READ_SETTINGS)
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) {read[0]}", read[1])
            out.append(f"  -- {label}\n" + "\n".join(f"    {row[0]}" for row in cursor.fetchall()))
    return "\n".join(out)


# --- GitOps baseline ------------------------------------------------------------------------------


def write_repo(repo: Path) -> None:
    print("writing the GitOps repository ...", flush=True)
    rows = Deployment.objects.values_list(
        "id",
        "name",
        "params",
        "environment__slug",
        "environment__tier",
        "environment__project__slug",
        "environment__project__team__slug",
        "bundle_version__bundle__name",
        "bundle_version__version",
    )
    resources = dict(
        Deployment.objects.values_list("id", "state_resources__attributes").exclude(state_resources__isnull=True)
    )
    for pk, name, params, env, tier, project, team, bundle, version in rows.iterator(chunk_size=5000):
        folder = repo / project / env / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "terraform.tfvars.json").write_text(json.dumps(params, indent=2))
        meta = {"bundle": bundle, "version": version, "team": team, "tier": tier}
        (folder / "meta.json").write_text(json.dumps(meta))
        (folder / "resources.json").write_text(json.dumps({"aws_db_instance": [resources.get(pk, {})]}))
    git = ["git", "-C", str(repo), "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "estate"], check=True)
    # A later change to one deployment, so the history question has something to find.
    target = repo / history_path().rsplit("/", 1)[0]
    data = json.loads((target / "terraform.tfvars.json").read_text())
    data["instance_class"] = "db.r6g.2xlarge"
    (target / "terraform.tfvars.json").write_text(json.dumps(data, indent=2))
    subprocess.run([*git, "commit", "-qam", "bigger d-1"], check=True)


def history_path() -> str:
    d = Deployment.objects.select_related("environment__project").get(name="d-1")
    return f"{d.environment.project.slug}/{d.environment.slug}/d-1/terraform.tfvars.json"


def walk(repo: Path, predicate) -> int:
    found = 0
    for tfvars in repo.glob("*/*/*/terraform.tfvars.json"):
        folder = tfvars.parent
        params = json.loads(tfvars.read_text())
        meta = json.loads((folder / "meta.json").read_text())
        res = json.loads((folder / "resources.json").read_text())
        if predicate(params, meta, res):
            found += 1
    return found


GITOPS = {
    "equality": lambda p, m, r: m["bundle"] == "postgres" and p.get("instance_class") == "db.r6g.large",
    "range": lambda p, m, r: p.get("storage", {}).get("size_gb", 0) >= 900 and m["tier"] == "production",
    "regex": lambda p, m, r: __import__("re").search(r"^db\.r6g\.(x|2x)large$", p.get("instance_class", "")),
    "nested path": lambda p, m, r: p.get("storage", {}).get("encrypted") is False and m["bundle"] == "postgres",
    "OR": lambda p, m, r: m["team"] in ("team-1", "team-4") and p.get("replicas", 0) >= 4,
    "resource attribute": lambda p, m, r: (
        any(x.get("storage_encrypted") is False for x in r["aws_db_instance"]) and m["tier"] == "production"
    ),
}


def dry_run() -> None:
    """Every deployment's params against postgres 2.0.0 (stricter): load, check, keep each invalid one's messages."""
    v2 = BundleVersion.objects.select_related("bundle").get(bundle__name="postgres", version="2.0.0")
    start, cpu = time.perf_counter(), time.process_time()
    rows = list(Deployment.objects.values_list("environment_id", "params"))
    loaded = time.perf_counter()
    envs = {e.pk: e for e in Environment.objects.all()}
    validators = Validators(envs)
    verdicts = [validators.check(environment=envs[env_id], bundle_version=v2, params=params) for env_id, params in rows]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    fast = validators._compiled[(v2.pk, "")][1]
    t = time.perf_counter()
    passed = sum(fast.quick(params) for _, params in rows)
    quick = time.perf_counter() - t
    invalid = sum(not v.ok for v in verdicts)
    messages = sum(len(m) for v in verdicts for m in v.errors.values())
    digest = hashlib.sha256(json.dumps([list(v.errors.items()) for v in verdicts]).encode()).hexdigest()[:12]
    print(
        f"dry-run validation of {len(rows)} params against {v2}: {elapsed:.2f} s "
        f"(loading {loaded - start:.2f} s, checking {elapsed - (loaded - start):.2f} s; this process's CPU "
        f"{cpu:.2f} s, steadier than the wall clock on a shared machine), {invalid} invalid with {messages} "
        f"messages (digest {digest}, their order included; validators compiled: {len(validators._compiled)}); "
        f"goal < 3 s: {'met' if elapsed < 3 else 'MISSED'}\n"
        f"  of which the compiled pass/fail pass alone: {quick:.2f} s ({passed} passed it; the rest went to "
        "jsonschema for their messages)\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployments", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="reuse the data already generated")
    parser.add_argument("--skip-gitops", action="store_true")
    parser.add_argument("--no-plans", action="store_true", help="leave out the queries' plans")
    parser.add_argument("--validation-only", action="store_true", help="time the dry-run validation only")
    args = parser.parse_args()
    if not (args.keep and Deployment.objects.count() == args.deployments):
        generate(args.deployments)
    total = Deployment.objects.count()
    print(f"\n{total} deployments across {len(BUNDLES)} bundles, PostgreSQL {connection.pg_version // 10000}\n")

    results = {}
    if not args.validation_only:
        print(f"{'query':<20} {'matches':>8} {'median ms':>10} {'p95 ms':>8}  text")
        # As the web process runs (portal/wsgi.py): what start-up (and the fill) made is out of the cyclic
        # collector's full passes, which otherwise walk it in the middle of a timed query now and then.
        gc.collect()
        gc.freeze()
        for label, text in [*QUERIES, *connection_queries()]:
            median, p95, (count, _) = timed(lambda text=text: page_of(text), args.runs)
            results[label] = (count, median, p95)
            print(f"{label:<20} {count:>8} {median:>10.1f} {p95:>8.1f}  {text}")
        worst = max(p95 for _, _, p95 in results.values())
        print(f"goal p95 < 50 ms: {'met' if worst < 50 else 'MISSED'} (worst {worst:.1f} ms)\n")
        if not args.no_plans:
            for label, text in [*QUERIES, *connection_queries()]:
                print(f"plan of {label}: {text}\n{plans(text)}\n")

    dry_run()
    if args.skip_gitops or args.validation_only:
        return
    repo = Path(tempfile.mkdtemp(prefix="slipway-gitops-"))
    try:
        write_repo(repo)
        print(f"{'GitOps question':<20} {'matches':>8} {'walk ms':>10} {'Slipway ms':>11} {'ratio':>8}")
        for label, _ in QUERIES:
            start = time.perf_counter()
            found = walk(repo, GITOPS[label])
            walk_ms = (time.perf_counter() - start) * 1000
            count, median, _ = results[label]
            print(f"{label:<20} {found:>8} {walk_ms:>10.0f} {median:>11.1f} {walk_ms / median:>7.0f}x")
        start = time.perf_counter()
        log = subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "log",
                "-p",
                "--format=%h %an %ad %s",
                "--",
                history_path(),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        git_ms = (time.perf_counter() - start) * 1000
        changes = [line for line in log.splitlines() if line.startswith("+") and "instance_class" in line]
        target = Deployment.objects.get(name="d-1")
        median, _, _history = timed(
            lambda: list(
                Deployment.history.filter(id=target.pk)
                .order_by("history_date")
                .values_list("history_date", "params__instance_class")
            ),
            args.runs,
        )
        print(
            f"{'history (git log)':<20} {len(changes):>8} {git_ms:>10.0f} {median:>11.1f} {git_ms / median:>7.0f}x"
            "  (Slipway: the deployment's history rows; the generator writes none, so this times the indexed lookup)"
        )
    finally:
        shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    main()
