"""Reading the engine's plan (``show -json``): what will change, in plain words, with secrets masked."""

from __future__ import annotations

from typing import Any

MASK = "(sensitive)"
UNKNOWN = "(known after apply)"
MAX_VALUE_CHARS = 500


def _mask(value: Any, sensitive: Any) -> Any:
    """Replace every part of ``value`` that the engine's ``*_sensitive`` mirror marks true."""
    if sensitive is True:
        return MASK
    if isinstance(value, dict) and isinstance(sensitive, dict):
        return {k: _mask(v, sensitive.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(sensitive, list):
        return [_mask(v, sensitive[i] if i < len(sensitive) else None) for i, v in enumerate(value)]
    return value


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "(value)": value}


def _short(value: Any) -> Any:
    text = value if isinstance(value, str) else None
    if text is not None and len(text) > MAX_VALUE_CHARS:
        return text[:MAX_VALUE_CHARS] + "…"
    return value


def attribute_diff(change: dict) -> list[dict]:
    """Per-attribute before/after of one resource change, sensitive values masked."""
    # A resource being created has no before (and one being destroyed no after): no rows for those.
    before = _flatten(_mask(change["before"], change.get("before_sensitive"))) if change.get("before") else {}
    after = _flatten(_mask(change["after"], change.get("after_sensitive"))) if change.get("after") else {}
    unknown = _flatten(change.get("after_unknown") or {})
    unknown_paths = {p for p, v in unknown.items() if v is True}

    def is_unknown(path: str) -> bool:
        # `output` unknown as a whole makes `output.port` unknown too (not removed).
        return any(path == u or path.startswith((u + ".", u + "[")) for u in unknown_paths)

    rows = []
    for path in sorted(set(before) | set(after) | unknown_paths):
        if path in unknown_paths and any(b.startswith((path + ".", path + "[")) for b in before):
            continue  # its attributes each get a row
        old = before.get(path)
        new = UNKNOWN if is_unknown(path) else after.get(path)
        if old != new:
            rows.append({"path": path, "before": _short(old), "after": _short(new)})
    return rows


def _kind(actions: list[str]) -> str | None:
    if actions in (["no-op"], ["read"], []):
        return None
    if "create" in actions and "delete" in actions:
        return "replace"
    if actions == ["create"]:
        return "add"
    if actions == ["delete"]:
        return "destroy"
    return "change"


def plain_words(kind: str, change: dict) -> str:
    address = change.get("address", "?")
    if kind == "replace":
        forced = [".".join(str(p) for p in path) for path in change.get("change", {}).get("replace_paths") or []]
        because = f" because {', '.join(forced)} changed" if forced else ""
        return f"This recreates {address}{because}: it is destroyed and built again, so any data it holds is lost."
    if kind == "destroy":
        return f"This destroys {address}: it is deleted, with any data it holds."
    if kind == "add":
        return f"This creates {address}."
    return f"This updates {address} in place."


def summarize(plan: dict) -> dict:
    """Counts, each resource with its diff and plain words, and the values the module derives."""
    counts = {"add": 0, "change": 0, "replace": 0, "destroy": 0}
    resources = []
    for change in plan.get("resource_changes") or []:
        kind = _kind((change.get("change") or {}).get("actions") or [])
        if kind is None:
            continue
        counts[kind] += 1
        resources.append(
            {
                "address": change.get("address"),
                "type": change.get("type"),
                "action": kind,
                "words": plain_words(kind, change),
                "diff": attribute_diff(change.get("change") or {}),
            }
        )
    outputs = {}
    for name, change in (plan.get("output_changes") or {}).items():
        if change.get("after_sensitive") is True:
            outputs[name] = MASK
        elif change.get("after_unknown") is True:
            outputs[name] = UNKNOWN
        elif "delete" not in (change.get("actions") or []):
            outputs[name] = _mask(change.get("after"), change.get("after_sensitive"))
    output_changes = any(
        (c.get("actions") or ["no-op"]) != ["no-op"] for c in (plan.get("output_changes") or {}).values()
    )
    counts["total"] = sum(counts.values())
    # Resources the refresh found changed outside (drift): applying such a plan changes no resource but
    # writes the refreshed state, so the state records what the cloud holds (e.g. after drift is accepted).
    drifted = [
        d.get("address")
        for d in plan.get("resource_drift") or []
        if (d.get("change") or {}).get("actions") not in (None, [], ["no-op"])
    ]
    return {
        **counts,
        "resources": resources,
        "outputs": outputs,
        "drifted": drifted,
        "has_changes": bool(counts["total"] or output_changes or drifted),
        "risky": bool(counts["replace"] or counts["destroy"]),
    }


def redact(plan: dict) -> dict:
    """A copy of the plan safe to store: values marked sensitive masked, configuration expressions dropped."""
    safe = dict(plan)
    changes = []
    for change in plan.get("resource_changes") or []:
        body = dict(change.get("change") or {})
        body["before"] = _mask(body.get("before"), body.get("before_sensitive"))
        body["after"] = _mask(body.get("after"), body.get("after_sensitive"))
        changes.append({**change, "change": body})
    safe["resource_changes"] = changes
    outputs = {}
    for name, change in (plan.get("output_changes") or {}).items():
        outputs[name] = {
            **change,
            "before": _mask(change.get("before"), change.get("before_sensitive")),
            "after": _mask(change.get("after"), change.get("after_sensitive")),
        }
    safe["output_changes"] = outputs
    # Variables, prior state and planned values repeat the same values without reliable sensitivity
    # marks (a module can pass a secret through a non-sensitive attribute), so they are not kept.
    for key in ("variables", "prior_state", "planned_values", "configuration", "relevant_attributes"):
        safe.pop(key, None)
    return safe
