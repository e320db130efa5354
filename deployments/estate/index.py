"""The resource index: the non-sensitive attributes of each deployment's latest state, in a small
table (:class:`StateResource`) that ``resource.<type>.<attr>`` queries read instead of decrypting
every state. It follows each state the engine writes (the runs package's ``state_written`` signal)."""

from __future__ import annotations

import json
from typing import Any

from ..models import StateResource
from ..runs.signals import state_written
from ..secrets import values as secret_values

MAX_INDEXED_STRING = 512


def _sensitive_roots(instance: dict) -> set[str]:
    """Top-level attributes the state marks sensitive (any path into them hides the whole attribute)."""
    roots = set()
    for path in instance.get("sensitive_attributes") or []:
        steps = path if isinstance(path, list) else [path]
        first = steps[0] if steps else None
        if isinstance(first, dict) and first.get("type") == "get_attr":
            roots.add(str(first.get("value")))
        elif isinstance(first, str):  # newer engines write "attr.path" strings
            roots.add(first.split(".")[0].split("[")[0])
    return roots


def _small(value: Any, depth: int = 0) -> tuple[bool, Any]:
    """Keep what is worth querying: scalars, short strings, small nested structures.

    Attributes of a dynamic type are stored by the engine as ``{"value": ..., "type": ...}``; the index
    keeps the value, so ``resource.terraform_data.input.message`` reads like the configuration.
    """
    if isinstance(value, dict) and set(value) == {"value", "type"}:
        value = value["value"]
    if isinstance(value, str):
        return (len(value) <= MAX_INDEXED_STRING), value
    if value is None or isinstance(value, (bool, int, float)):
        return True, value
    if depth >= 4:
        return False, None
    if isinstance(value, dict):
        kept = {}
        for key, item in list(value.items())[:100]:
            ok, small = _small(item, depth + 1)
            if ok:
                kept[str(key)] = small
        return True, kept
    if isinstance(value, list):
        kept_list = []
        for item in value[:50]:
            ok, small = _small(item, depth + 1)
            if ok:
                kept_list.append(small)
        return True, kept_list
    return False, None


def resource_rows(state: dict) -> list[dict]:
    """One row per managed resource instance: address, type and its non-sensitive attributes."""
    rows = []
    for resource in state.get("resources") or []:
        if resource.get("mode") != "managed":
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        for instance in resource.get("instances") or []:
            hidden = _sensitive_roots(instance)
            attributes = {}
            for key, value in (instance.get("attributes") or {}).items():
                if key in hidden:
                    continue
                ok, small = _small(value)
                if ok:
                    attributes[key] = small
            index = instance.get("index_key")
            suffix = "" if index is None else f"[{json.dumps(index)}]"
            rows.append(
                {
                    "address": f"{prefix}{resource.get('type')}.{resource.get('name')}{suffix}",
                    "type": str(resource.get("type") or ""),
                    "attributes": attributes,
                }
            )
    return rows


def index_state_resources(*, deployment, state: dict, state_version=None) -> int:
    """Replace the deployment's resource index with the resources of ``state`` (called when state is written).

    Attributes the state marks sensitive are never indexed; nor are the values of the deployment's
    ``x-sensitive`` params or sensitive outputs, in case a module passes one through a plain attribute.
    """
    rows = resource_rows(state)
    secrets_known = {json.dumps(v, sort_keys=True) for v in secret_values(deployment.sensitive_params)}
    secrets_known |= {json.dumps(v, sort_keys=True) for v in secret_values(deployment.sensitive_outputs)}
    if secrets_known:
        for row in rows:
            row["attributes"] = _without(row["attributes"], secrets_known)
    StateResource.objects.filter(deployment=deployment).delete()
    StateResource.objects.bulk_create(
        StateResource(deployment=deployment, state_version=state_version, **row) for row in rows
    )
    return len(rows)


def _without(value: Any, secrets_known: set[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _without(v, secrets_known)
            for k, v in value.items()
            if json.dumps(v, sort_keys=True) not in secrets_known
        }
    if isinstance(value, list):
        return [_without(v, secrets_known) for v in value if json.dumps(v, sort_keys=True) not in secrets_known]
    return value


def follow_state(sender, deployment, state: dict, state_version, **kwargs) -> None:
    """``state_written``: the index follows each new state, partial ones (a failed apply) included."""
    index_state_resources(deployment=deployment, state=state, state_version=state_version)


state_written.connect(follow_state, dispatch_uid="deployments.estate.index.follow_state")
