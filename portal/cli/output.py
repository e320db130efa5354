"""What the CLI prints: JSON, tables, progress, a run followed to its end, a bundle's params."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .client import EXIT_OK, EXIT_RUN_FAILED, RUN_FAILED, RUN_WAITS, Client

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
