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
import sys

from . import commands, environments, previews, promote
from .client import CLIError

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

    def connect_option(p, help_text):
        p.add_argument("--connect", action="append", default=[], metavar="NAME=DEPLOYMENT", help=help_text)

    command(sub, "login", commands.cmd_login, "Save the server URL and your API token")

    bundles = sub.add_parser("bundles", help="The catalog").add_subparsers(dest="sub", required=True)
    p = command(bundles, "list", commands.cmd_bundles_list, "List bundles")
    p.add_argument("--category")
    p.add_argument("--json", action="store_true")
    p = command(bundles, "show", commands.cmd_bundles_show, "A bundle and its params documentation")
    p.add_argument("name")
    p.add_argument("--version", help="Default: the latest")
    p.add_argument("--json", action="store_true")

    p = command(sub, "deploy", commands.cmd_deploy, "Create a deployment from a bundle and apply it")
    p.add_argument("bundle")
    p.add_argument("--project", required=True)
    p.add_argument("--env", required=True, help="Environment slug")
    p.add_argument("--name", help="Deployment name (default: the bundle's name)")
    p.add_argument("--params", metavar="FILE|-", help="Params as a JSON object, from a file or stdin")
    p.add_argument("--preset", help="Start from this preset; --params override it")
    p.add_argument("--version", help="Bundle version (default: the latest)")
    connect_option(
        p,
        "Connect the bundle's connection NAME to a producer: a deployment name in the same environment, an id, "
        "or project/environment/name (repeat for each; a connection left out takes the environment's default)",
    )
    p.add_argument("--plan-only", action="store_true", help="Stop at the plan for review")
    run_options(p)

    deployments = sub.add_parser("deployments", help="Deployments").add_subparsers(dest="sub", required=True)
    p = command(deployments, "list", commands.cmd_deployments_list, "List deployments you can see")
    p.add_argument("--project")
    p.add_argument("--env")
    p.add_argument("--status")
    p.add_argument("--ordering", help="e.g. name, -updated_at")
    p.add_argument("--json", action="store_true")
    ref_help = "Deployment id, or project/environment/name"
    p = command(deployments, "show", commands.cmd_deployments_show, "One deployment")
    p.add_argument("deployment", help=ref_help)
    p.add_argument("--json", action="store_true")
    p = command(deployments, "plan", commands.cmd_deployments_plan, "Plan the current configuration")
    p.add_argument("deployment", help=ref_help)
    run_options(p)
    p = command(deployments, "apply", commands.cmd_deployments_apply, "Apply new params, or the current ones again")
    p.add_argument("deployment", help=ref_help)
    p.add_argument("--params", metavar="FILE|-")
    connect_option(
        p,
        "Connect NAME to another producer (as for deploy); NAME= disconnects an optional connection; "
        "connections left out keep theirs",
    )
    p.add_argument("--plan-only", action="store_true")
    run_options(p)
    p = command(deployments, "destroy", commands.cmd_deployments_destroy, "Destroy everything a deployment created")
    p.add_argument("deployment", help=ref_help)
    p.add_argument("--confirm", metavar="NAME", help="The deployment's name (asked for when omitted)")
    run_options(p)

    p = command(
        deployments,
        "drift",
        commands.cmd_deployments_drift,
        "What the cloud holds against what was applied: the latest drift check, or --check for a new one "
        "(exit 1 when drifted)",
    )
    p.add_argument("deployment", help=ref_help)
    p.add_argument("--check", action="store_true", help="Check now and wait for the result")
    p.add_argument("--timeout", type=int, default=600, help="Seconds to wait for --check (600)")
    p.add_argument("--json", action="store_true")

    runs = sub.add_parser("runs", help="Runs").add_subparsers(dest="sub", required=True)
    p = command(runs, "show", commands.cmd_runs_show, "One run")
    p.add_argument("run", type=int)
    p.add_argument("--json", action="store_true")
    p = command(runs, "logs", commands.cmd_runs_logs, "A run's log")
    p.add_argument("run", type=int)
    p.add_argument("--follow", "-f", action="store_true", help="Stream with a progress bar until the run ends")
    for name, help_text in (
        ("cancel", "Cancel a run"),
        ("confirm", "Apply a plan that stopped for your review"),
        ("approve", "Ops: approve a held plan"),
        ("reject", "Ops: reject a held plan"),
    ):
        p = command(runs, name, commands.cmd_runs_action, help_text)
        p.add_argument("run", type=int)
        p.add_argument("--comment", default="", required=name == "reject")
        p.add_argument("--wait", action="store_true")
        p.set_defaults(action=name)

    env = environments.add_parsers(sub, command, run_options)
    previews.add_parsers(env, command, run_options)
    promote.add_parser(env, command)
    p = command(
        env,
        "graph",
        commands.cmd_env_graph,
        "An environment's deployments and their connections: consumers first, each connection under its consumer",
    )
    p.add_argument("environment", help="project/environment")
    p.add_argument(
        "--format", choices=["text", "dot", "json"], default="text", help="text (default), Graphviz dot, json"
    )

    estate = sub.add_parser("estate", help="The estate as a database").add_subparsers(dest="sub", required=True)
    p = command(
        estate, "query", commands.cmd_estate_query, 'Query deployments, e.g. "bundle:postgres env.tier:production"'
    )
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true")

    p = command(sub, "costs", commands.cmd_costs, "What each team, project or environment costs a month")
    p.add_argument("--by", choices=["team", "project", "environment"], default="team")
    p.add_argument("--json", action="store_true")

    audit = sub.add_parser("audit", help="Audit").add_subparsers(dest="sub", required=True)
    p = command(audit, "diff", commands.cmd_audit_diff, "What changed in the estate between two times")
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
