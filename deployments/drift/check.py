"""Running one drift check: a refresh-only plan on a private copy of the latest state.

The check never talks to the state backend. It writes the deployment's latest state (decrypted, in
memory and in its own temporary directory only) as a local ``terraform.tfstate`` beside the module and
runs ``init``, ``plan -refresh-only -lock=false -out`` and ``show -json``: the engine asks the provider to
read every resource and reports each difference under ``resource_drift``, without writing any state.
So a check takes no state lock and cannot block or be blocked by an apply; the price is that a check
racing an apply may read a state that is already old, which :func:`.services.drift_check_execute`
detects (the latest state version changed meanwhile) and records as skipped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from bundles.loader import extract_archive
from portal.crypto import decrypt

from ..models import StateVersion
from ..runs.engine import engine_binary, engine_env, parse_json_line, run_engine
from ..runs.execution import Redactor
from ..runs.plans import MASK, attribute_diff
from ..runs.steps import slipway_context
from ..secrets import merge as merge_sensitive

PLAN_FILE = "drift.bin"
MAX_LOG_CHARS = 200_000
DELETED = "deleted"
CHANGED = "changed"


class CheckFailed(Exception):
    """The engine could not compare (the module, the provider or the cloud failed): the check ends in error."""


@dataclass
class Finding:
    """What one refresh found: the drifted resources, every resource as read, and the engine's log."""

    resources: list[dict] = field(default_factory=list)
    observed: list[dict] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.resources)

    def attribute_names(self) -> str:
        """`` storage_gb sandbox_database.storage_gb `` ...: what ``drift.attribute:`` matches, padded by spaces."""
        names = set()
        for resource in self.resources:
            if resource["action"] == DELETED:
                names.update({"(deleted)", f"{resource['type']}.(deleted)"})
            for change in resource["changes"]:
                names.update({change["path"], f"{resource['type']}.{change['path']}"})
        return f" {' '.join(sorted(names))} " if names else ""


def _words(action: str, address: str, changes: list[dict]) -> str:
    if action == DELETED:
        return f"{address} was deleted outside Slipway: it no longer exists in the cloud. Revert creates it again."
    names = ", ".join(c["path"] for c in changes) or "attributes"
    return f"{address} was changed outside Slipway: {names}."


def drift_resources(plan: dict) -> list[dict]:
    """Each resource under ``resource_drift``: changed in place (with each differing attribute: before in state,
    now in the cloud; sensitive ones masked) or deleted outside."""
    found = []
    for item in plan.get("resource_drift") or []:
        if item.get("mode", "managed") != "managed":
            continue
        change = item.get("change") or {}
        actions = change.get("actions") or []
        if actions in (["no-op"], ["read"], []):
            continue
        action = DELETED if "delete" in actions and not change.get("after") else CHANGED
        changes = [] if action == DELETED else attribute_diff(change)
        if action == CHANGED and not changes:
            continue  # only values the engine normalises (or masked ones that are equal when masked)
        address = str(item.get("address") or "")
        found.append(
            {
                "address": address,
                "type": str(item.get("type") or ""),
                "name": str(item.get("name") or ""),
                "action": action,
                "words": _words(action, address, changes),
                "changes": changes,
            }
        )
    return found


def _masked(value: Any, sensitive: Any) -> Any:
    if sensitive is True:
        return MASK
    if isinstance(value, dict) and isinstance(sensitive, dict):
        return {k: _masked(v, sensitive.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(sensitive, list):
        return [_masked(v, sensitive[i] if i < len(sensitive) else None) for i, v in enumerate(value)]
    return value


def _modules(module: dict):
    yield module
    for child in module.get("child_modules") or []:
        yield from _modules(child)


def observed_resources(plan: dict) -> list[dict]:
    """Every managed resource as the refresh read it (the plan's ``prior_state`` is the refreshed state):
    address, type, name, the cloud's id, and its attributes with sensitive ones masked."""
    root = ((plan.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
    rows = []
    for module in _modules(root):
        for resource in module.get("resources") or []:
            if resource.get("mode") != "managed":
                continue
            values = _masked(resource.get("values") or {}, resource.get("sensitive_values") or {})
            rows.append(
                {
                    "address": str(resource.get("address") or ""),
                    "type": str(resource.get("type") or ""),
                    "name": str(resource.get("name") or ""),
                    "id": values.get("id") if isinstance(values.get("id"), (str, int)) else "",
                    "attributes": values,
                }
            )
    return rows


def _variables(deployment, version, params: dict) -> dict:
    variables = dict(params)
    if version.takes_slipway_context:
        variables["slipway"] = slipway_context(deployment)
    return variables


def refresh(
    *, deployment, state_json: bytes, workdir: Path, redactor: Redactor, should_stop=lambda: False, lock_fd=None
) -> Finding:
    """Run the refresh-only plan of ``deployment`` against ``state_json``.

    The engine needs the module's variables to load it, so they are the deployment's params; the refresh
    itself reads the resources the state lists, and the drift it reports is state against cloud.
    """
    version = deployment.bundle_version
    params = merge_sensitive(deployment.params, deployment.sensitive_params)
    extract_archive(bytes(version.module_archive), workdir)
    (workdir / "terraform.tfvars.json").write_text(json.dumps(_variables(deployment, version, params)))
    (workdir / "terraform.tfstate").write_bytes(state_json)
    finding = Finding()
    binary = engine_binary()
    env = engine_env(workdir)
    deadline = time.monotonic() + settings.SLIPWAY_RUN_TIMEOUT.get("plan", 900)

    def engine(*args: str, capture: list[str] | None = None) -> None:
        finding.log.append(f"$ {Path(binary).name} {' '.join(args)}")

        def on_line(stream: str, line: str) -> None:
            if capture is not None and stream == "stdout":
                capture.append(line)
                return
            event = parse_json_line(line)
            text = str(event.get("@message", line)) if event else line
            if text.strip():
                finding.log.append(redactor.text(text))

        result = run_engine(
            binary,
            args,
            workdir=workdir,
            env=env,
            on_line=on_line,
            should_stop=should_stop,
            timeout=max(deadline - time.monotonic(), 1),
            pass_fds=() if lock_fd is None else (lock_fd,),  # the folder's lock (workdirs.hold)
        )
        if result.cancelled or result.timed_out:
            raise CheckFailed(
                f"`{' '.join(args[:1])}` was stopped ({'timed out' if result.timed_out else 'cancelled'})."
            )
        if result.returncode != 0:
            errors = "\n".join(finding.log[-20:])
            raise CheckFailed(f"`{Path(binary).name} {args[0]}` failed (exit {result.returncode}).\n{errors}")

    engine("init", "-input=false", "-no-color")
    engine("plan", "-refresh-only", "-lock=false", "-input=false", "-no-color", f"-out={PLAN_FILE}", "-json")
    out: list[str] = []
    engine("show", "-json", PLAN_FILE, capture=out)
    plan = json.loads("\n".join(out))
    finding.resources = redactor.obj(drift_resources(plan))
    finding.observed = redactor.obj(observed_resources(plan))
    return finding


def latest_state(deployment) -> tuple[Any, bytes] | tuple[None, None]:
    """The deployment's latest state version and its JSON in clear (never stored anywhere else)."""
    latest = StateVersion.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()
    if latest is None:
        return None, None
    return latest, decrypt(bytes(latest.encrypted_state))
