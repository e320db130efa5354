"""The ``slipway`` commands: each reads its arguments, calls the API and prints the answer."""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .client import EXIT_OK, EXIT_RUN_FAILED, Client, CLIError, client_from, error_line, write_config
from .output import (
    describe_params,
    follow_run,
    out,
    print_json,
    print_table,
    progress_bar,
    report_run,
    run_outcome,
)

# --- helpers for input -------------------------------------------------------------------------


def read_params(source: str | None) -> dict | None:
    if source is None:
        return None
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise CLIError(f"cannot read params from {source}: {exc.strerror}") from exc
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        where = "stdin" if source == "-" else source
        raise CLIError(f"params in {where} are not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(params, dict):
        raise CLIError('params must be a JSON object, e.g. {"size": "small"}')
    return params


def resolve_deployment(client: Client, ref: str) -> dict:
    """A deployment by id, or by ``project/environment/name``."""
    try:
        return client.get(f"deployments/{uuid.UUID(ref)}/")
    except ValueError:
        pass
    parts = ref.split("/")
    if len(parts) != 3 or not all(parts):
        raise CLIError(f"{ref!r} is neither a deployment id nor project/environment/name")
    project, env, name = parts
    found = client.get("deployments/", name=name, environment__slug=env, environment__project__slug=project)
    if not found["results"]:
        raise CLIError(f"no deployment {ref} that you can see")
    return found["results"][0]


def read_connections(client: Client, pairs: list[str]) -> dict[str, str] | None:
    """``--connect NAME=DEPLOYMENT`` options as the API's ``{name: producer}``: a producer given as
    project/environment/name is looked up (its id is sent); a name or an id is sent as it is, and the server
    finds it in the deployment's environment."""
    if not pairs:
        return None
    connections: dict[str, str] = {}
    for pair in pairs:
        name, sep, ref = pair.partition("=")
        if not sep or not name.strip():
            raise CLIError(f"--connect {pair!r}: write NAME=DEPLOYMENT, e.g. --connect database=orders-db")
        if name.strip() in connections:
            raise CLIError(f"--connect names {name.strip()!r} twice")
        ref = ref.strip()
        connections[name.strip()] = resolve_deployment(client, ref)["id"] if ref.count("/") == 2 else ref
    return connections


def connection_lines(client: Client, deployment: dict) -> list[str]:
    """``NAME -> producer`` for each connection of a deployment, the producer by project/environment/name."""
    lines = []
    for name, producer_id in sorted((deployment.get("connections") or {}).items()):
        try:
            producer = client.get(f"deployments/{producer_id}/")
            shown = f"{producer['project']}/{producer['environment']}/{producer['name']} ({producer['status']})"
        except CLIError:  # a producer you cannot see (or gone): its id is all there is to say
            shown = producer_id
        lines.append(f"{name} -> {shown}")
    return lines


# --- commands ------------------------------------------------------------------------------------


def cmd_login(args) -> int:
    url = args.url or os.environ.get("SLIPWAY_URL") or input("Slipway URL (e.g. https://slipway.example.com): ").strip()
    token = args.token or os.environ.get("SLIPWAY_TOKEN") or getpass.getpass("API token (from Account > API tokens): ")
    if not url or not token.strip():
        raise CLIError("both a URL and a token are needed")
    client = Client(url, token.strip())
    client.get("bundles/", limit=1)  # proves the URL and the token
    path = write_config(client.base, token.strip())
    out(f"Logged in to {client.base}; saved to {path}")
    return EXIT_OK


def cmd_bundles_list(args) -> int:
    bundles = client_from(args).all_pages("bundles/", category=args.category)
    if args.json:
        print_json(bundles)
    else:
        print_table(bundles, ["name", "latest_version", "category", "title"])
    return EXIT_OK


def cmd_bundles_show(args) -> int:
    client = client_from(args)
    if args.version:
        version = client.get(f"bundles/{args.name}/versions/{args.version}/")
        bundle = client.get(f"bundles/{args.name}/")
    else:
        bundle = client.get(f"bundles/{args.name}/")
        version = bundle.get("latest") or {}
    if args.json:
        print_json({**bundle, "latest": version})
        return EXIT_OK
    out(f"{bundle['name']} {version.get('version', '')}: {bundle['title']}")
    if bundle.get("description"):
        out(" ".join(bundle["description"].split()))
    out(f"versions: {', '.join(bundle.get('versions') or [])}")
    out()
    out("Params:")
    for line in describe_params(version.get("inputs") or []) or ["(none)"]:
        out(f"  {line}")
    presets = version.get("presets") or []
    if presets:
        out()
        out("Presets (use with --preset NAME):")
        for preset in presets:
            desc = f": {preset['description']}" if preset.get("description") else ""
            out(f"  {preset.get('name')}{desc}")
            out(f"    {json.dumps(preset.get('params') or {}, sort_keys=True)}")
    return EXIT_OK


def cmd_deploy(args) -> int:
    client = client_from(args)
    envs = client.get("environments/", project__slug=args.project, slug=args.env)["results"]
    if not envs:
        raise CLIError(f"no environment {args.env!r} in project {args.project!r} that you can see")
    body: dict[str, Any] = {
        "environment": envs[0]["id"],
        "name": args.name or args.bundle,
        "bundle": args.bundle,
        "reason": args.reason,
        "auto_apply": not args.plan_only,
    }
    params = read_params(args.params)
    if params is not None:
        body["params"] = params
    if args.preset:
        body["preset"] = args.preset
    if args.version:
        body["version"] = args.version
    connections = read_connections(client, args.connect)
    if connections is not None:
        body["connections"] = connections
    deployment = client.post("deployments/", body, key=args.idempotency_key or str(uuid.uuid4()))
    out(f"deployment {deployment['id']} ({args.project}/{args.env}/{deployment['name']}) created")
    return report_run(client, deployment["run"], args)


def cmd_deployments_list(args) -> int:
    rows = client_from(args).all_pages(
        "deployments/",
        environment__project__slug=args.project,
        environment__slug=args.env,
        status=args.status,
        ordering=args.ordering,
    )
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["id", "project", "environment", "name", "bundle", "bundle_version", "status", "latest_run"])
    return EXIT_OK


def cmd_deployments_show(args) -> int:
    client = client_from(args)
    deployment = resolve_deployment(client, args.deployment)
    if args.json:
        print_json(deployment)
        return EXIT_OK
    for key in ("id", "name", "project", "environment", "tier", "team", "bundle", "bundle_version", "status"):
        out(f"{key + ':':16}{deployment.get(key)}")
    out(f"{'version:':16}{deployment['version']}  latest run: {deployment.get('latest_run') or '-'}")
    out(f"{'params:':16}{json.dumps(deployment['params'], sort_keys=True)}")
    out(f"{'outputs:':16}{json.dumps(deployment['outputs'], sort_keys=True)}")
    lines = connection_lines(client, deployment)
    out(f"{'connections:':16}{lines[0] if lines else '(none)'}")
    for line in lines[1:]:
        out(f"{'':16}{line}")
    return EXIT_OK


def cmd_deployments_plan(args) -> int:
    client = client_from(args)
    deployment = resolve_deployment(client, args.deployment)
    run = client.post(f"deployments/{deployment['id']}/plan/", {"reason": args.reason}, key=args.idempotency_key)
    return report_run(client, run, args)


def cmd_deployments_apply(args) -> int:
    client = client_from(args)
    deployment = resolve_deployment(client, args.deployment)
    body: dict[str, Any] = {"reason": args.reason, "auto_apply": not args.plan_only}
    params = read_params(args.params)
    if params is not None:
        body["params"] = params
    connections = read_connections(client, args.connect)
    if connections is not None:
        body["connections"] = connections
    if params is not None or connections is not None:
        body["expected_version"] = deployment["version"]
    run = client.post(f"deployments/{deployment['id']}/apply/", body, key=args.idempotency_key or str(uuid.uuid4()))
    return report_run(client, run, args)


def cmd_deployments_destroy(args) -> int:
    client = client_from(args)
    deployment = resolve_deployment(client, args.deployment)
    confirm = args.confirm
    if confirm is None:
        if not sys.stdin.isatty():
            raise CLIError(f"pass --confirm {deployment['name']} to destroy it without a terminal")
        confirm = input(f"Type {deployment['name']} to destroy everything it created: ").strip()
    body = {"confirm": confirm, "reason": args.reason}
    run = client.post(f"deployments/{deployment['id']}/destroy/", body, key=args.idempotency_key or str(uuid.uuid4()))
    return report_run(client, run, args)


def _print_drift(deployment: dict, check: dict | None) -> None:
    if check is None:
        out(f"{deployment['name']}: never checked for drift (run with --check)")
        return
    when = check.get("finished_at") or check.get("created_at")
    label = {"in_sync": "in sync", "drifted": "DRIFTED"}.get(check["status"], check["status"])
    out(f"{deployment['name']}: {label} (check #{check['id']}, {when}, by {check.get('requested_by_name') or '-'})")
    if check.get("error"):
        out(f"  {check['error']}")
    for resource in check.get("resources") or []:
        out(f"  {resource['words']}")
        for change in resource.get("changes") or []:
            before, after = json.dumps(change["before"]), json.dumps(change["after"])
            out(f"    {change['path']}: {before} -> {after}")
    if check.get("resolution"):
        out(f"  {check['resolution']} by {check.get('resolved_by_name') or '-'} (run #{check.get('resolution_run')})")


def cmd_deployments_drift(args) -> int:
    """The latest drift result, or (``--check``) a check now, waited for; exit 1 when drifted or the check failed."""
    client = client_from(args)
    deployment = resolve_deployment(client, args.deployment)
    if args.check:
        check = client.post(f"deployments/{deployment['id']}/drift/", {})
        deadline = time.monotonic() + args.timeout
        while check["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise CLIError(f"drift check #{check['id']} is still {check['status']} after {args.timeout} s")
            time.sleep(1)
            check = client.get(f"drift-checks/{check['id']}/")
    else:
        check = client.get(f"deployments/{deployment['id']}/drift/")["latest"]
    if args.json:
        print_json(check)
    else:
        _print_drift(deployment, check)
    return EXIT_OK if check is None or check["status"] == "in_sync" else EXIT_RUN_FAILED


def cmd_env_graph(args) -> int:
    """The environment's graph (``GET environments/{id}/graph/``) as text, Graphviz dot or JSON."""
    client = client_from(args)
    project, sep, slug = args.environment.partition("/")
    if not sep or not project or not slug or "/" in slug:
        raise CLIError(f"{args.environment!r}: write the environment as project/environment, e.g. checkout/staging")
    found = client.get("environments/", project__slug=project, slug=slug)["results"]
    if not found:
        raise CLIError(f"no environment {args.environment} that you can see")
    graph = client.get(f"environments/{found[0]['id']}/graph/")
    if args.format == "json":
        print_json(graph)
    elif args.format == "dot":
        out(graph_dot(graph))
    else:
        for line in graph_text(graph):
            out(line)
    return EXIT_OK


def _node_words(node: dict) -> str:
    words = f"{node['bundle']} {node['bundle_version']}  {node['status']}"
    if node.get("default_of"):
        words += f"  default {', '.join(node['default_of'])}"
    run = node.get("run")
    if run:
        words += f"  run #{run['id']} {run['action']} {run['status']} {run['progress']}%"
    return words


def graph_text(graph: dict) -> list[str]:
    """Each deployment (consumers before the producers they use), its connections beneath it."""
    nodes, edges = graph["nodes"], graph["edges"]
    lines = [
        f"{graph['environment']}: {len(nodes)} deployment{'s' * (len(nodes) != 1)}, "
        f"{len(edges)} connection{'s' * (len(edges) != 1)}"
    ]
    if not nodes:
        return [*lines, "(nothing deployed yet)"]
    width = max(len(n["name"]) for n in nodes)
    for node in nodes:
        lines.append(f"{node['name']:<{width}}  {_node_words(node)}")
        for edge in (e for e in edges if e["consumer"] == node["name"]):
            lines.append(f"{'':<{width}}    {edge['connection']} -> {edge['producer']} ({edge['type']})")
        if node.get("open_connections"):
            lines.append(f"{'':<{width}}    not connected: {', '.join(node['open_connections'])}")
    return lines


def graph_dot(graph: dict) -> str:
    """Graphviz: each deployment a box, each connection an arrow from consumer to producer (so producers are
    drawn below), labelled with the resource type."""

    def quoted(text: str) -> str:
        return json.dumps(text)  # a dot string: double quotes, backslash escapes

    lines = [f"digraph {quoted(graph['environment'])} {{", "  node [shape=box];"]
    for node in graph["nodes"]:
        label = f"{node['name']}\n{node['bundle']} {node['bundle_version']}\n{node['status']}"
        lines.append(f"  {quoted(node['name'])} [label={quoted(label)}];")  # json's \n is dot's line break
    for edge in graph["edges"]:
        label = f"{edge['type']} ({edge['connection']})"
        lines.append(f"  {quoted(edge['consumer'])} -> {quoted(edge['producer'])} [label={quoted(label)}];")
    lines.append("}")
    return "\n".join(lines)


def cmd_runs_show(args) -> int:
    run = client_from(args).get(f"runs/{args.run}/")
    if args.json:
        print_json(run)
        return EXIT_OK
    for key in ("id", "deployment", "action", "status", "bundle_version", "requested_by_name", "approval_basis"):
        out(f"{key + ':':20}{run.get(key)}")
    out(f"{'progress:':20}{progress_bar(run['resources_done'], run['resources_planned'], run['status'])}")
    if run.get("plan_summary"):
        out(f"{'plan:':20}{json.dumps(run['plan_summary'], sort_keys=True)}")
    if run.get("error"):
        out(f"{'error:':20}{run['error']}")
    return EXIT_OK


def cmd_runs_logs(args) -> int:
    client = client_from(args)
    if args.follow:
        return run_outcome(follow_run(client, args.run))
    after = 0
    while True:
        page = client.get(f"runs/{args.run}/logs/", after=after)
        for line in page["lines"]:
            out(line["text"])
        if not page["lines"]:
            return EXIT_OK
        after = page["next"]


def cmd_runs_action(args) -> int:
    client = client_from(args)
    body = {"comment": args.comment} if args.action in ("approve", "reject") else {}
    run = client.post(f"runs/{args.run}/{args.action}/", body)
    return report_run(client, run, args)


def cmd_estate_query(args) -> int:
    client = client_from(args)
    response = client.request("GET", "estate/", ok=(200, 404), params={"q": args.query, "limit": args.limit})
    if response.status_code == 404 and "json" not in response.headers.get("Content-Type", ""):
        raise CLIError(f"{client.base} has no estate API (GET /api/v1/estate/ answered 404): upgrade the server")
    if response.status_code == 404:
        raise CLIError(f"GET /api/v1/estate/: {error_line(response)}")
    body = response.json()
    if args.json:
        print_json(body)
        return EXIT_OK
    rows = body.get("results", body) if isinstance(body, dict) else body
    if not isinstance(rows, list):
        print_json(body)
        return EXIT_OK
    preferred = ["id", "project", "environment", "name", "bundle", "version", "bundle_version", "status", "tier"]
    present = [c for c in preferred if rows and c in rows[0]]
    columns = present or [k for k, v in (rows[0].items() if rows else []) if not isinstance(v, (dict, list))]
    print_table(rows, columns)
    if isinstance(body, dict) and body.get("count", len(rows)) > len(rows):
        out(f"({len(rows)} of {body['count']}; raise --limit or use --json)")
    return EXIT_OK


def cmd_costs(args) -> int:
    """The costs page's figures: each group now, at the start of the month, the change; the biggest deployments."""
    client = client_from(args)
    body = client.get("costs/", by=args.by)
    if args.json:
        print_json(body)
        return EXIT_OK
    groups = [
        {
            args.by: g["key"],
            "deployments": g["deployments"],
            "monthly": f"{g['monthly']} {g['currency']}",
            "month start": f"{g['month_start']} {g['currency']}",
            "change": f"{'+' if float(g['change']) > 0 else ''}{g['change']} {g['currency']}",
        }
        for g in body["groups"]
    ]
    if not groups:
        out("No deployment you can see has a cost estimate.")
        return EXIT_OK
    out(f"Monthly estimates by {args.by}; the change is since {body['since']}.")
    print_table(groups, [args.by, "deployments", "monthly", "month start", "change"])
    out()
    out("Biggest deployments:")
    rows = [
        {
            "deployment": f"{d['project']}/{d['environment']}/{d['name']}",
            "team": d["team"],
            "bundle": d["bundle"],
            "monthly": f"{d['monthly_cost']} {d['cost_currency']}",
        }
        for d in body["biggest"]
    ]
    print_table(rows, ["deployment", "team", "bundle", "monthly"])
    return EXIT_OK


def cmd_audit_diff(args) -> int:
    client = client_from(args)
    params = {"from": args.start, "to": args.end, "team": args.team, "project": args.project, "tier": args.tier}
    params = {k: v for k, v in params.items() if v}
    page = client.get("audit/diff/", limit=200, **params)
    body, entries = page, list(page["results"])
    while page.get("next"):
        page = client.request("GET", page["next"]).json()
        entries.extend(page["results"])
    if args.json:
        print_json({**body, "next": None, "previous": None, "results": entries})
        return EXIT_OK
    counts = body["counts"]
    out(
        f"{body['from']} -> {body['to']}: {counts['added']} added, {counts['removed']} removed, "
        f"{counts['changed']} changed ({counts['keys_changed']} keys), "
        f"{counts.get('transient', 0)} created and destroyed, {counts['without_approval']} without approval"
    )
    for entry in entries:
        version = entry["new_version"] or entry["old_version"]
        if entry["old_version"] and entry["new_version"] and entry["old_version"] != entry["new_version"]:
            version = f"{entry['old_version']} -> {entry['new_version']}"
        flag = "  (applied without approval)" if entry["applied_without_approval"] else ""
        out(f"{entry['kind']:8} {entry['where']}/{entry['name']}  {entry['bundle']} {version}{flag}")
        for change in entry["changes"]:
            out(f"           {change['path']}: {json.dumps(change['old'])} -> {json.dumps(change['new'])}")
    return EXIT_OK
