"""Benchmark: the environment canvas and the compatible-producer lookup on a large environment.

    .venv/bin/python bench/canvas.py [--runs 30]

Uses its own PostgreSQL database (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/slipway_bench_canvas``): creates and migrates it, publishes the
catalog, and builds one environment of 200 live deployments with 400 connections: 1 network (the
environment's default), 40 PostgreSQL databases, 30 buckets, 29 queues and 100 web services, each web
service connected to the network, a database, a bucket and a queue; every producer has published its
artifact. Then it times, median and p95 of ``--runs``:

- the canvas page, rendered through the same view as a browser gets it (signed in, full HTML). Goal: p95 < 300 ms;
- the compatible-producer lookup for a web service's database connection (what the form and the canvas's
  ports ask). Goal: p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import setup

URL = setup("postgres://postgres@127.0.0.1:5432/slipway_bench_canvas")

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from bundles.models import Bundle  # noqa: E402
from deployments.connections.selectors import candidates  # noqa: E402
from deployments.connections.services import payload_digest  # noqa: E402
from deployments.models import Artifact, Deployment, Environment, Project  # noqa: E402
from portal.models import Membership, Team  # noqa: E402

PLAN = [("network", 1), ("postgres", 40), ("object-storage", 30), ("queue", 29), ("web-service", 100)]
PAYLOADS = {
    "network": lambda i: {"network_id": f"net-{i}", "cidr_block": "10.0.0.0/16", "dns_domain": "env.internal"},
    "postgresql": lambda i: {"host": f"db{i}.internal", "port": 5432, "database": "app", "version": "16"},
    "bucket": lambda i: {"bucket_id": f"bkt-{i}", "name": f"b{i}", "url": f"https://b{i}.test"},
    "queue": lambda i: {"queue_id": f"q-{i}", "name": f"q{i}", "url": f"https://q.test/{i}", "fifo": False},
    "http-endpoint": lambda i: {"url": f"https://web{i}.test", "internal_hostname": f"web{i}.internal", "port": 8080},
}


def build() -> tuple[Environment, object, dict]:
    call_command("migrate", verbosity=0)
    call_command("sync_bundles", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    project, _ = Project.objects.get_or_create(slug="bench", defaults={"name": "Bench", "team": team})
    environment, created = Environment.objects.get_or_create(project=project, slug="big", defaults={"name": "Big"})
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.get_or_create(user=user, team=team)
    versions = {name: Bundle.objects.get(name=name).latest_version() for name, _ in PLAN}
    if created or not Deployment.objects.filter(environment=environment).exists():
        made: dict[str, list[Deployment]] = {}
        for name, count in PLAN:
            rows = [
                Deployment(environment=environment, name=f"{name}-{i}", bundle_version=versions[name], status="live")
                for i in range(count)
            ]
            made[name] = Deployment.objects.bulk_create(rows)
        for index, web in enumerate(made["web-service"]):
            web.connections = {
                "network": str(made["network"][0].pk),
                "database": str(made["postgres"][index % 40].pk),
                "assets": str(made["object-storage"][index % 30].pk),
                "jobs": str(made["queue"][index % 29].pk),
            }
        Deployment.objects.bulk_update(made["web-service"], ["connections"])
        artifacts = []
        for name, _ in PLAN:
            for index, deployment in enumerate(made[name]):
                for declared in versions[name].artifacts:
                    payload = {"specs": PAYLOADS[declared["type"]](index), "data": {}}
                    artifacts.append(
                        Artifact(
                            deployment=deployment,
                            name=declared["name"],
                            type=declared["type"],
                            type_version=declared["type_version"],
                            serial=1,
                            specs=payload["specs"],
                            digest=payload_digest(payload),
                        )
                    )
        Artifact.objects.bulk_create(artifacts)
    return environment, user, versions


def timed(func, runs: int) -> tuple[float, float]:
    func()  # warm
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    environment, user, versions = build()
    deployments = Deployment.objects.filter(environment=environment).count()
    connections = sum(
        len(c) for c in Deployment.objects.filter(environment=environment).values_list("connections", flat=True)
    )
    client = Client()
    client.force_login(user)
    url = reverse("deployments:canvas", args=[environment.pk])

    def page():
        response = client.get(url)
        assert response.status_code == 200 and response.content.count(b'class="node"') == deployments

    database = next(c for c in versions["web-service"].connections if c["name"] == "database")

    def lookup():
        assert len([c for c in candidates(environment, database) if c.compatible]) == 40

    rows = [
        ("canvas page (full HTML)", *timed(page, args.runs), 300),
        ("compatible producers", *timed(lookup, args.runs), 50),
    ]
    print(f"environment: {deployments} deployments, {connections} connections; {args.runs} runs each")
    print(f"{'measure':<28} {'median ms':>10} {'p95 ms':>10} {'goal ms':>8}  result")
    for name, median, p95, goal in rows:
        print(f"{name:<28} {median:>10.1f} {p95:>10.1f} {goal:>8}  {'ok' if p95 < goal else 'OVER'}")


if __name__ == "__main__":
    main()
