"""``slipway env``: an environment as a unit (deploy, plan, teardown, follow, diff)."""

from __future__ import annotations

import json
import sys
import time

from .client import EXIT_OK, EXIT_RUN_FAILED, Client, CLIError, client_from
from .output import out, print_json


def resolve_environment(client: Client, ref: str) -> dict:
    """An environment by ``project/environment`` (slugs)."""
    parts = ref.split("/")
    if len(parts) != 2 or not all(parts):
        raise CLIError(f"{ref!r} is not project/environment (e.g. checkout/staging)")
    found = client.get("environments/", project__slug=parts[0], slug=parts[1])["results"]
    if not found:
        raise CLIError(f"no environment {ref} that you can see")
    return found[0]


def _describe(env_run: dict) -> list[str]:
    lines = []
    for level in sorted({s["level"] for s in env_run["steps"]}):
        steps = [s for s in env_run["steps"] if s["level"] == level]
        done = sum(1 for s in steps if s["status"] == "succeeded")
        states = ", ".join(f"{s['name']} {s['status'].replace('_', ' ')}" for s in steps)
        lines.append(f"level {level}: {done}/{len(steps)} done ({states})")
    return lines


def follow_env_run(client: Client, env_run: dict, *, poll: float = 2.0) -> dict:
    """Print each change of the levels until the environment run ends."""
    shown: list[str] = []
    while True:
        lines = _describe(env_run)
        for line in lines:
            if line not in shown:
                out(line)
        shown = lines
        if env_run["status"] != "running":
            return env_run
        time.sleep(poll)
        env_run = client.get(f"environment-runs/{env_run['id']}/")


def report_env_run(client: Client, env_run: dict, args) -> int:
    out(f"{env_run['action']} of {env_run['environment']}: #{env_run['id']}, {env_run['levels']} levels")
    if getattr(args, "wait", False):
        env_run = follow_env_run(client, env_run)
    out(env_run["message"])
    if env_run["error"]:
        sys.stderr.write(env_run["error"].rstrip() + "\n")
    return EXIT_RUN_FAILED if env_run["status"] in ("failed", "cancelled") else EXIT_OK


def cmd_env_deploy(args) -> int:
    client = client_from(args)
    environment = resolve_environment(client, args.environment)
    body = {"action": "plan" if args.plan else "deploy", "reason": args.reason}
    return report_env_run(client, client.post(f"environments/{environment['id']}/deploy/", body), args)


def cmd_env_teardown(args) -> int:
    client = client_from(args)
    environment = resolve_environment(client, args.environment)
    confirm = args.confirm
    if confirm is None:
        if not sys.stdin.isatty():
            raise CLIError(f"pass --confirm {environment['slug']} to tear it down without a terminal")
        confirm = input(f"Type {environment['slug']} to destroy every deployment of {args.environment}: ").strip()
    body = {"confirm": confirm, "reason": args.reason}
    return report_env_run(client, client.post(f"environments/{environment['id']}/teardown/", body), args)


def cmd_env_status(args) -> int:
    client = client_from(args)
    environment = resolve_environment(client, args.environment)
    runs = client.get("environment-runs/", environment=environment["id"], limit=1)["results"]
    if not runs:
        raise CLIError(f"{args.environment} has never been deployed or torn down as a whole")
    if args.json:
        print_json(runs[0])
        return EXIT_OK
    return report_env_run(client, runs[0], args)


def _place(option: str, item: str, example: str) -> tuple[str, str, str]:
    where, sep, raw = item.partition("=")
    name, slash, pointer = where.partition("/")
    if not sep or not slash or not name or not pointer:
        raise CLIError(f"{option} {item!r}: use DEPLOYMENT/POINTER={example}")
    return name, "/" + pointer, raw


def fork_values(sets: list[str], set_files: list[str], stdin=None) -> dict[str, dict]:
    """``{deployment: {pointer: value}}`` from ``--set NAME/POINTER=VALUE`` (a JSON value, else text) and
    ``--set-file NAME/POINTER=PATH`` (the file's text, one trailing newline dropped; ``-`` reads stdin once), so a
    secret never has to be written on the command line, where the shell's history and ``ps`` show it."""
    values: dict[str, dict] = {}
    for item in sets:
        name, pointer, raw = _place("--set", item, "VALUE, e.g. orders-db/replicas=2")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        values.setdefault(name, {})[pointer] = value
    read_stdin = False
    for item in set_files:
        name, pointer, path = _place("--set-file", item, "PATH, e.g. orders-db/password=./db-password.txt")
        if path == "-":
            if read_stdin:
                raise CLIError("--set-file: only one value can be read from stdin (-)")
            read_stdin = True
            text = (stdin or sys.stdin).read()
        else:
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise CLIError(f"--set-file {name}{pointer}: cannot read {path}: {exc}") from exc
        values.setdefault(name, {})[pointer] = text[:-1] if text.endswith("\n") else text
    return values


def cmd_env_fork(args) -> int:
    client = client_from(args)
    source = resolve_environment(client, args.source)
    parts = args.target.split("/")
    if len(parts) != 2 or not all(parts):
        raise CLIError(f"{args.target!r} is not project/environment (e.g. checkout/pr-123)")
    values = fork_values(args.set or [], args.set_file or [])
    body = {"project": parts[0], "slug": parts[1], "tier": args.tier, "values": values, "reason": args.reason}
    if args.name:
        body["name"] = args.name
    fork = client.post(f"environments/{source['id']}/fork/", body)
    out(f"{fork['environment']} forked from {args.source}: {len(fork['deployments'])} draft deployments")
    for name, pointers in sorted(fork["left_to_fill"].items()):
        out(f"  not copied: {name} {', '.join(pointers)}")
    for name, pointers in sorted(fork.get("generated", {}).items()):
        out(f"  generated by the bundle's rule: {name} {', '.join(pointers)}")
    for name, errors in sorted(fork["missing"].items()):
        out(f"  still to fill before it deploys: {name} {json.dumps(errors, sort_keys=True)}")
    return EXIT_OK


def add_parsers(sub, command, run_options):
    """The `env` commands; returns their subparsers so other modules' environment commands join them."""
    env = sub.add_parser("env", help="An environment as a unit").add_subparsers(dest="sub", required=True)
    ref_help = "project/environment, e.g. checkout/staging"
    p = command(env, "deploy", cmd_env_deploy, "Deploy every deployment of an environment, level by level")
    p.add_argument("environment", help=ref_help)
    p.add_argument("--plan", action="store_true", help="Plan each deployment instead of applying")
    run_options(p, key=False)
    p = command(env, "teardown", cmd_env_teardown, "Destroy every deployment of an environment, consumers first")
    p.add_argument("environment", help=ref_help)
    p.add_argument("--confirm", metavar="NAME", help="The environment's slug (asked for when omitted)")
    run_options(p, key=False)
    p = command(env, "status", cmd_env_status, "The latest environment-wide action and its levels")
    p.add_argument("environment", help=ref_help)
    p.add_argument("--wait", action="store_true", help="Follow it until it ends")
    p.add_argument("--json", action="store_true")
    p = command(env, "fork", cmd_env_fork, "Copy an environment's deployments into a new one, as drafts")
    p.add_argument("source", help=ref_help)
    p.add_argument("target", help="project/environment of the new one")
    p.add_argument("--tier", default="prototype", choices=["prototype", "staging", "production"])
    p.add_argument("--name", help="Its name (default: the slug)")
    p.add_argument(
        "--set",
        action="append",
        metavar="DEPLOYMENT/POINTER=VALUE",
        help="A value that is not copied (JSON, else text). Not for secrets: the command line is kept in your "
        "shell's history and shown to other users by ps; use --set-file",
    )
    p.add_argument(
        "--set-file",
        action="append",
        metavar="DEPLOYMENT/POINTER=PATH",
        help="A value that is not copied, read from a file as text (one trailing newline dropped); PATH - reads "
        "stdin. For secrets",
    )
    p.add_argument("--reason", default="")
    p = command(
        env, "diff", cmd_env_diff, "Compare two environments: versions, params, connections, what is in one only"
    )
    p.add_argument("a", help=ref_help)
    p.add_argument("b", help=ref_help)
    p.add_argument("--json", action="store_true")
    return env


def cmd_env_diff(args) -> int:
    client = client_from(args)
    a, b = resolve_environment(client, args.a), resolve_environment(client, args.b)
    diff = client.get(f"environments/{a['id']}/diff/", other=b["id"])
    if args.json:
        print_json(diff)
        return EXIT_OK
    if diff["same"]:
        out(f"{diff['a']} and {diff['b']} are the same: deployments, versions, params and connections.")
        return EXIT_OK
    for side, key in ((diff["a"], "only_in_a"), (diff["b"], "only_in_b")):
        for d in diff[key]:
            out(f"only in {side}: {d['name']} ({d['bundle']} {d['version']}, {d['status']})")
    for pair in diff["deployments"]:
        if pair["same"]:
            continue
        out(f"{pair['name']}:")
        if pair["version_differs"]:
            left, right = pair["a"], pair["b"]
            out(f"  version: {left['bundle']} {left['version']} | {right['bundle']} {right['version']}")
        for value in pair["params"]:
            out(f"  {value['label']} ({value['pointer']}): {value['a']} | {value['b']}")
        for conn in pair["connections"]:
            out(f"  connection {conn['name']}: {conn['a']} | {conn['b']}")
    same = sum(1 for p in diff["deployments"] if p["same"])
    out(f"({same} deployment{'' if same == 1 else 's'} the same in both; left of | is {diff['a']}, right {diff['b']})")
    return EXIT_OK
