"""``slipway env preview``: preview environments from CI (ensure, teardown, list).

Values that are not copied (secrets, unique names) never go on the command line: they come from a JSON file
(``--values-file``, ``-`` for stdin) or from the ``SLIPWAY_PREVIEW_VALUES`` environment variable (a CI secret),
as ``{deployment name: {JSON pointer: value}}``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .client import EXIT_OK, Client, CLIError, client_from
from .environments import report_env_run, resolve_environment
from .output import out, print_json, print_table

VALUES_ENV = "SLIPWAY_PREVIEW_VALUES"


def read_values(source: str | None) -> dict:
    """The values file (or stdin), else ``$SLIPWAY_PREVIEW_VALUES``, else none."""
    if source:
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text()
        except OSError as exc:
            raise CLIError(f"cannot read values from {source}: {exc.strerror}") from exc
        where = "stdin" if source == "-" else source
    elif os.environ.get(VALUES_ENV):
        text, where = os.environ[VALUES_ENV], f"${VALUES_ENV}"
    else:
        return {}
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"values in {where} are not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise CLIError(f'values in {where} must be {{"deployment": {{"/pointer": value}}}}')
    return values


def _source(client: Client, ref: str) -> str:
    return str(resolve_environment(client, ref)["id"])


def cmd_preview_ensure(args) -> int:
    values = read_values(args.values_file)  # before any request: a bad file fails at once
    client = client_from(args)
    body = {
        "source": _source(client, args.source),
        "repository": args.repo,
        "pull_request": args.pr,
        "values": values,
        "reason": args.reason,
    }
    for key, value in (("ttl_hours", args.ttl_hours), ("owner", args.owner), ("project", args.project)):
        if value is not None:
            body[key] = value
    if args.slug:
        body["slug"] = args.slug
    answer = client.post("previews/ensure/", body)
    preview = answer["preview"]
    verb = "created" if answer["created"] else "updated"
    pull = f"{preview['repository']}#{preview['pull_request']}"
    out(f"{preview['environment']} {verb}: preview of {preview['source']} for {pull}")
    out(f"  owner {preview['owner']}, expires {preview['expires_at']}, {preview['monthly_cost_text']}")
    for name in answer["repointed"]:
        out(f"  re-pointed to {preview['source']}: {name}")
    for name in answer["added"]:
        out(f"  added from {preview['source']}: {name}")
    for name, pointers in sorted(answer["left_to_fill"].items()):
        out(f"  not copied: {name} {', '.join(pointers)}")
    return report_env_run(client, answer["environment_run"], args)


def cmd_preview_teardown(args) -> int:
    client = client_from(args)
    body = {"source": _source(client, args.source), "repository": args.repo, "pull_request": args.pr}
    body["reason"] = args.reason
    try:
        answer = client.post("previews/teardown/", body)
    except CLIError as exc:
        if args.missing_ok and "No preview of" in exc.message:
            out(f"no preview of {args.source} for {args.repo}#{args.pr}: nothing to tear down")
            return EXIT_OK
        raise
    if answer["environment_run"] is None:
        out(f"{answer['preview']} is torn down already")
        return EXIT_OK
    return report_env_run(client, answer["environment_run"], args)


def cmd_preview_list(args) -> int:
    rows = client_from(args).get("previews/")
    if args.json:
        print_json(rows)
        return EXIT_OK
    shown = [
        {
            "environment": r["environment"],
            "source": f"{r['source']} {r['repository']}#{r['pull_request']}",
            "owner": r["owner"],
            "created": r["created_at"][:16].replace("T", " "),
            "expires": "torn down" if r["torn_down_at"] else (r["expires_at"] or "")[:16].replace("T", " "),
            "cost": r["monthly_cost_text"],
        }
        for r in rows
    ]
    print_table(shown, ["environment", "source", "owner", "created", "expires", "cost"])
    return EXIT_OK


def add_parsers(env, command, run_options) -> None:
    """``slipway env preview ...`` under the ``env`` commands."""
    preview = env.add_parser("preview", help="Preview environments for pull requests (from CI)")
    sub = preview.add_subparsers(dest="preview", required=True)
    source_help = "The environment to copy: project/environment, e.g. checkout/staging"

    def key(p):
        p.add_argument("source", help=source_help)
        p.add_argument("--pr", required=True, help="The pull request (free text), e.g. 123")
        p.add_argument("--repo", default="", help="The repository (free text), e.g. acme/checkout")

    p = command(sub, "ensure", cmd_preview_ensure, "Create or update the preview of a pull request, and deploy it")
    key(p)
    p.add_argument("--ttl-hours", type=int, help="Time to live from now (server default 72)")
    p.add_argument("--owner", help="Username told before it expires (default: you)")
    p.add_argument("--project", help="Project of a new preview (default: the source's)")
    p.add_argument("--slug", help="Slug of a new preview (default: pr-<PR>)")
    p.add_argument(
        "--values-file",
        metavar="FILE",
        help=f'JSON {{"deployment": {{"/pointer": value}}}} for values not copied ("-": stdin; else ${VALUES_ENV})',
    )
    run_options(p, key=False)
    p = command(sub, "teardown", cmd_preview_teardown, "Destroy the preview of a pull request")
    key(p)
    p.add_argument("--missing-ok", action="store_true", help="Succeed when there is no such preview")
    run_options(p, key=False)
    p = command(sub, "list", cmd_preview_list, "The previews you can see: source, owner, age, expiry, cost")
    p.add_argument("--json", action="store_true")
