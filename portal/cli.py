"""``slipway``: the command-line client for any Slipway server.

It speaks only the public REST API (``/api/v1/``) with a token, so it needs neither Django nor
this project's settings: the standard library and requests. Where the server is and who you are
come from the command line (``--url``, ``--token``), else the environment (``SLIPWAY_URL``,
``SLIPWAY_TOKEN``), else the config file ``slipway login`` writes
(``$XDG_CONFIG_HOME/slipway/config.toml``, by default ``~/.config/slipway/config.toml``).

Exit codes: 0 success; 1 a run failed (or was cancelled or interrupted); 2 bad input (a usage
error, or the server refused the request: invalid params, unknown name, no permission);
3 the server could not be reached or failed. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import requests

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3
RUN_FAILED = {"failed", "cancelled", "interrupted"}
# A run stops here for a person (the requester's review, or ops' approval): following it ends.
RUN_WAITS = {"planned", "awaiting_approval"}
TIMEOUT = 30


class CLIError(Exception):
    """Ends the command with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.message, self.code = message, code


# --- configuration ---------------------------------------------------------------------------


def config_path() -> Path:
    if os.environ.get("SLIPWAY_CONFIG"):
        return Path(os.environ["SLIPWAY_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "slipway" / "config.toml"


def read_config() -> dict[str, str]:
    path = config_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from exc
    return {k: str(v) for k, v in data.items() if k in ("url", "token")}


def write_config(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # json.dumps of a str is a valid TOML basic string.
    text = f"# Written by `slipway login`.\nurl = {json.dumps(url)}\ntoken = {json.dumps(token)}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)
    return path


# --- HTTP --------------------------------------------------------------------------------------


def _error_line(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        message = str(body["message"])
        errors = body.get("errors") or {}
        details = "; ".join(f"{pointer or '/'}: {' '.join(map(str, msgs))}" for pointer, msgs in errors.items())
        # The message often repeats the first field error; list each field once.
        return f"{message} [{details}]" if details else message
    text = " ".join(response.text.split())[:200]
    return f"{response.status_code} {response.reason}" + (f": {text}" if text and body is not None else "")


class Client:
    def __init__(self, url: str, token: str):
        self.base = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Token {token}", "Accept": "application/json", "User-Agent": "slipway-cli"}
        )

    def request(self, method: str, path: str, *, ok=(200, 201, 202), **kwargs) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}/api/v1/{path.lstrip('/')}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise CLIError(f"cannot reach {self.base}: {exc.__class__.__name__}", EXIT_UNAVAILABLE) from exc
        if response.status_code in ok:
            return response
        code = EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_BAD_INPUT
        raise CLIError(f"{method} {url.removeprefix(self.base)}: {_error_line(response)}", code)

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def post(self, path: str, body: dict, *, key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        return self.request("POST", path, json=body, headers=headers).json()

    def all_pages(self, path: str, **params) -> list[dict]:
        """Every result of a paginated list, following ``next``."""
        page = self.get(path, limit=200, **params)
        results = list(page.get("results", []))
        while page.get("next"):
            page = self.request("GET", page["next"]).json()
            results.extend(page.get("results", []))
        return results


def client_from(args) -> Client:
    config = read_config()
    url = args.url or os.environ.get("SLIPWAY_URL") or config.get("url")
    token = args.token or os.environ.get("SLIPWAY_TOKEN") or config.get("token")
    if not url or not token:
        raise CLIError("not logged in: run `slipway login`, or set SLIPWAY_URL and SLIPWAY_TOKEN")
    return Client(url, token)


# --- output --------------------------------------------------------------------------------


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_json(data: Any) -> None:
    out(json.dumps(data, indent=2, sort_keys=False, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def print_table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        out("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    out("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        out("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def progress_bar(done: int, planned: int, status: str = "", width: int = 30) -> str:
    if planned <= 0:
        settled = status in RUN_WAITS or status in RUN_FAILED or status == "succeeded"
        return f"[{'#' * width}] no resource changes" if settled else f"[{'.' * width}] planning"
    filled = min(width, round(width * done / planned))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{planned} resources"


# --- following a run -------------------------------------------------------------------------


def follow_run(client: Client, run_id: int, *, poll: float = 1.0, show_lines: bool = True) -> dict:
    """Print the run's log as it grows, with a progress bar (resources done / planned), until it ends
    or stops for a person. Returns the run."""
    after, last_progress = 0, None
    tty = sys.stderr.isatty()
    while True:
        page = client.get(f"runs/{run_id}/logs/", after=after)
        run = client.get(f"runs/{run_id}/")
        if tty and page["lines"] and last_progress:
            sys.stderr.write("\r\033[K")
        for line in page["lines"]:
            if show_lines:
                out(line["text"])
        after = page["next"]
        progress = (run["resources_done"], run["resources_planned"], run["status"])
        if tty:
            sys.stderr.write(f"\r\033[K{progress_bar(*progress)} {run['status']}")
            sys.stderr.flush()
        elif progress != last_progress:
            sys.stderr.write(f"progress: {progress_bar(*progress)} {run['status']}\n")
            sys.stderr.flush()
        last_progress = progress
        drained = len(page["lines"]) == 0
        if page["finished"] or (run["status"] in RUN_WAITS and drained):
            if tty:
                sys.stderr.write("\n")
            return run
        if not page["lines"]:
            time.sleep(poll)


def run_outcome(run: dict) -> int:
    status = run["status"]
    if status in RUN_FAILED:
        error = " ".join((run.get("error") or "").split())[:300]
        sys.stderr.write(f"slipway: run #{run['id']} {status}" + (f": {error}" if error else "") + "\n")
        return EXIT_RUN_FAILED
    if status == "awaiting_approval":
        out(f"run #{run['id']} is waiting for ops approval (the environment's policy holds this plan)")
    elif status == "planned":
        out(f"run #{run['id']} planned; apply it with `slipway runs confirm {run['id']}`")
    else:
        out(f"run #{run['id']} {status}")
    return EXIT_OK


def report_run(client: Client, run: dict, args) -> int:
    if getattr(args, "wait", False):
        return run_outcome(follow_run(client, run["id"]))
    out(f"run #{run['id']} {run['status']} ({run['action']}); follow it with `slipway runs logs {run['id']} --follow`")
    return EXIT_OK


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


# --- bundle params documentation ---------------------------------------------------------------


def describe_params(inputs: list[dict]) -> list[str]:
    """One block per param, from the server's description of them (``inputs`` of a bundle version): the
    CLI reads no JSON Schema itself."""
    lines: list[str] = []
    for item in inputs:
        flags = ["required" if item.get("required") else "optional"]
        flags += [flag for flag in ("immutable", "sensitive") if item.get(flag)]
        indent = "  " * int(item.get("depth") or 0)
        head = f"{indent}{item.get('path')} ({item.get('type')}, {', '.join(flags)})"
        lines.append(head + (f": {item['title']}" if item.get("title") else ""))
        pad = indent + "    "
        if item.get("constraints"):
            lines.append(pad + "; ".join(item["constraints"]))
        choices = item.get("choices") or []
        if choices:
            shown = ", ".join(json.dumps(c["value"]) + (f" ({c['label']})" if c.get("label") else "") for c in choices)
            lines.append(pad + "one of: " + shown)
        if item.get("description"):
            lines.append(pad + item["description"])
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
    deployment = resolve_deployment(client_from(args), args.deployment)
    if args.json:
        print_json(deployment)
        return EXIT_OK
    for key in ("id", "name", "project", "environment", "tier", "team", "bundle", "bundle_version", "status"):
        out(f"{key + ':':16}{deployment.get(key)}")
    out(f"{'version:':16}{deployment['version']}  latest run: {deployment.get('latest_run') or '-'}")
    out(f"{'params:':16}{json.dumps(deployment['params'], sort_keys=True)}")
    out(f"{'outputs:':16}{json.dumps(deployment['outputs'], sort_keys=True)}")
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
        raise CLIError(f"GET /api/v1/estate/: {_error_line(response)}")
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
        f"{counts['changed']} changed ({counts['keys_changed']} keys), {counts['without_approval']} without approval"
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


# --- argument parsing ---------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own code for usage errors)
        raise CLIError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="Slipway server (else SLIPWAY_URL, else config)")
    common.add_argument("--token", default=argparse.SUPPRESS, help="API token (else SLIPWAY_TOKEN, else config)")
    parser = Parser(
        prog="slipway",
        description="Self-service infrastructure from the terminal.",
        epilog="Exit codes: 0 success, 1 failed run, 2 bad input, 3 server unreachable or failing.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(parent, name, func, help_text):
        p = parent.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(func=func)
        return p

    def run_options(p, *, wait=True, key=True):
        p.add_argument("--reason", default="", help="Why (recorded in the audit trail)")
        if wait:
            p.add_argument("--wait", action="store_true", help="Stream the run's log and progress until it ends")
        if key:
            p.add_argument("--idempotency-key", help="Makes a retried request safe (a fresh one by default)")

    command(sub, "login", cmd_login, "Save the server URL and your API token")

    bundles = sub.add_parser("bundles", help="The catalog").add_subparsers(dest="sub", required=True)
    p = command(bundles, "list", cmd_bundles_list, "List bundles")
    p.add_argument("--category")
    p.add_argument("--json", action="store_true")
    p = command(bundles, "show", cmd_bundles_show, "A bundle and its params documentation")
    p.add_argument("name")
    p.add_argument("--version", help="Default: the latest")
    p.add_argument("--json", action="store_true")

    p = command(sub, "deploy", cmd_deploy, "Create a deployment from a bundle and apply it")
    p.add_argument("bundle")
    p.add_argument("--project", required=True)
    p.add_argument("--env", required=True, help="Environment slug")
    p.add_argument("--name", help="Deployment name (default: the bundle's name)")
    p.add_argument("--params", metavar="FILE|-", help="Params as a JSON object, from a file or stdin")
    p.add_argument("--preset", help="Start from this preset; --params override it")
    p.add_argument("--version", help="Bundle version (default: the latest)")
    p.add_argument("--plan-only", action="store_true", help="Stop at the plan for review")
    run_options(p)

    deployments = sub.add_parser("deployments", help="Deployments").add_subparsers(dest="sub", required=True)
    p = command(deployments, "list", cmd_deployments_list, "List deployments you can see")
    p.add_argument("--project")
    p.add_argument("--env")
    p.add_argument("--status")
    p.add_argument("--ordering", help="e.g. name, -updated_at")
    p.add_argument("--json", action="store_true")
    ref_help = "Deployment id, or project/environment/name"
    p = command(deployments, "show", cmd_deployments_show, "One deployment")
    p.add_argument("deployment", help=ref_help)
    p.add_argument("--json", action="store_true")
    p = command(deployments, "plan", cmd_deployments_plan, "Plan the current configuration")
    p.add_argument("deployment", help=ref_help)
    run_options(p)
    p = command(deployments, "apply", cmd_deployments_apply, "Apply new params, or the current ones again")
    p.add_argument("deployment", help=ref_help)
    p.add_argument("--params", metavar="FILE|-")
    p.add_argument("--plan-only", action="store_true")
    run_options(p)
    p = command(deployments, "destroy", cmd_deployments_destroy, "Destroy everything a deployment created")
    p.add_argument("deployment", help=ref_help)
    p.add_argument("--confirm", metavar="NAME", help="The deployment's name (asked for when omitted)")
    run_options(p)

    runs = sub.add_parser("runs", help="Runs").add_subparsers(dest="sub", required=True)
    p = command(runs, "show", cmd_runs_show, "One run")
    p.add_argument("run", type=int)
    p.add_argument("--json", action="store_true")
    p = command(runs, "logs", cmd_runs_logs, "A run's log")
    p.add_argument("run", type=int)
    p.add_argument("--follow", "-f", action="store_true", help="Stream with a progress bar until the run ends")
    for name, help_text in (
        ("cancel", "Cancel a run"),
        ("confirm", "Apply a plan that stopped for your review"),
        ("approve", "Ops: approve a held plan"),
        ("reject", "Ops: reject a held plan"),
    ):
        p = command(runs, name, cmd_runs_action, help_text)
        p.add_argument("run", type=int)
        p.add_argument("--comment", default="", required=name == "reject")
        p.add_argument("--wait", action="store_true")
        p.set_defaults(action=name)

    estate = sub.add_parser("estate", help="The estate as a database").add_subparsers(dest="sub", required=True)
    p = command(estate, "query", cmd_estate_query, 'Query deployments, e.g. "bundle:postgres env.tier:production"')
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true")

    audit = sub.add_parser("audit", help="Audit").add_subparsers(dest="sub", required=True)
    p = command(audit, "diff", cmd_audit_diff, "What changed in the estate between two times")
    p.add_argument("--from", dest="start", required=True, help="ISO 8601, e.g. 2026-05-01T00:00:00Z")
    p.add_argument("--to", dest="end", required=True, help="ISO 8601")
    p.add_argument("--team")
    p.add_argument("--project")
    p.add_argument("--tier")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        for name in ("url", "token"):
            if not hasattr(args, name):
                setattr(args, name, None)
        return args.func(args)
    except CLIError as exc:
        sys.stderr.write(f"slipway: {exc.message}\n" if not exc.message.startswith("slipway") else exc.message + "\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write("slipway: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
