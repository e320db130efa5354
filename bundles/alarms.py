"""A bundle's alarms (``alarms:`` in bundle.yaml): what to watch, when to fire, what to read, what fixes it.

::

    alarms:
      - name: storage-almost-full                           # ^[a-z][a-z0-9-]{1,62}$, unique in the bundle
        title: Storage almost full                          # optional
        metric: sandbox_database.main.storage_used_percent  # <resource type>.<resource name>.<metric>
        comparison: ">="                                    # >, >=, <, <=
        threshold: 80
        duration: 5m                                        # how long it must hold: 30s, 5m, 1h, or seconds
        severity: warning                                   # info, warning or critical
        runbook: Running out of storage                     # a heading of operator.md
        remedy: {param: storage_gb, multiply: 1.5}          # optional; or {param: size, step: next}

A remedy is a params change offered to the owner: ``step: next`` moves an enum param to its next larger
value (the enum's order), ``multiply: N`` multiplies a number param, rounded to the param's type and
clamped to its ``minimum``/``maximum``. :func:`alarm_problems` is the lint; :func:`remedy_params` is the one
function that computes a remedy, used by the deployment page and the API.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import mark_safe
from jsonschema import Draft202012Validator

from .cost import param_schema
from .schema import as_text, options, title

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
METRIC_RE = re.compile(r"^(?P<type>[a-z][a-z0-9_]*)\.(?P<name>[a-z_][a-z0-9_-]*)\.(?P<metric>[a-z][a-z0-9_]*)$")
COMPARISONS = {
    ">": lambda value, threshold: value > threshold,
    ">=": lambda value, threshold: value >= threshold,
    "<": lambda value, threshold: value < threshold,
    "<=": lambda value, threshold: value <= threshold,
}
SEVERITIES = ("info", "warning", "critical")
DURATION_RE = re.compile(r"^(?P<n>[0-9]{1,6})(?P<unit>s|m|h)$")
UNITS = {"s": 1, "m": 60, "h": 3600}
MAX_DURATION = 24 * 3600
KEYS = {"name", "title", "metric", "comparison", "threshold", "duration", "severity", "runbook", "summary", "remedy"}
REMEDY_KEYS = {"param", "step", "multiply"}


def duration_seconds(value: Any) -> int | None:
    """``5m`` -> 300; a whole number of seconds as it is; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_DURATION else None
    match = DURATION_RE.match(str(value)) if isinstance(value, str) else None
    if not match:
        return None
    seconds = int(match["n"]) * UNITS[match["unit"]]
    return seconds if seconds <= MAX_DURATION else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def runbook_sections(runbook: str) -> list[str]:
    """The headings of a runbook (Markdown ``#`` lines), in order."""
    found = []
    fence = False
    for line in (runbook or "").splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and (match := re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)):
            found.append(match.group(1).strip())
    return found


def section_anchor(section: str) -> str:
    """The id a heading gets on the deployment page (``runbook-`` + its words, lowercase, dashed)."""
    return "runbook-" + (re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-") or "section")


def anchor_headings(html: str) -> str:
    """Rendered runbook HTML with an id on each heading (:func:`section_anchor`), so an alarm links its section."""
    import html as html_lib

    def add_id(match):
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", match.group(2)))
        return f'<h{match.group(1)} id="{section_anchor(text)}">{match.group(2)}</h{match.group(1)}>'

    # The HTML was sanitised (nh3) before; the ids added are [a-z0-9-] only, so it stays safe.
    return mark_safe(re.sub(r"<h([1-6])>(.*?)</h\1>", add_id, str(html)))


# --- remedies -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Remedy:
    param: str
    before: Any
    after: Any
    words: str  # "Storage 100 → 150 GiB"
    params: dict  # the whole params with the change made


def _apply(remedy: dict, sub: dict, value: Any) -> Any:
    """The param's value after the remedy, or None when there is no better one (the largest size already)."""
    if remedy.get("step") == "next":
        values = [v for v, _ in (options(sub) or [])]
        texts = [as_text(v) for v in values]
        if as_text(value) not in texts:
            return values[0] if values else None
        at = texts.index(as_text(value))
        return values[at + 1] if at + 1 < len(values) else None
    factor = _number(remedy.get("multiply"))
    number = _number(value)
    if factor is None or number is None:
        return None
    result = number * factor
    kinds = sub.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if "integer" in kinds:
        result = math.ceil(result - 1e-9)  # up: a remedy that asks for more never rounds below
    for key, clamp in (("maximum", min), ("minimum", max)):
        bound = _number(sub.get(key))
        if bound is not None:
            result = clamp(result, bound)
    if "integer" in kinds:
        result = int(result)
    return None if result == number else result


def remedy_params(alarm: dict, params_schema: dict, params: dict) -> Remedy | None:
    """The change an alarm's remedy makes to ``params`` (a copy), or None when it has none to offer."""
    remedy = alarm.get("remedy") if isinstance(alarm, dict) else None
    if not isinstance(remedy, dict) or not isinstance(remedy.get("param"), str):
        return None
    name = remedy["param"]
    sub = param_schema(params_schema, name)
    if sub is None or name.startswith("/"):
        return None
    current = params.get(name, sub.get("default")) if isinstance(params, dict) else sub.get("default")
    after = _apply(remedy, sub, current)
    if after is None:
        return None
    label = title(sub, name)
    labels = dict((as_text(v), t) for v, t in (options(sub) or []))
    unit = f" {sub['x-unit']}" if sub.get("x-unit") else ""

    def shown(value):
        return labels.get(as_text(value), f"{as_text(value)}{unit}")

    return Remedy(
        param=name,
        before=current,
        after=after,
        words=f"{label}: {shown(current)} → {shown(after)}",
        params={**(params or {}), name: after},
    )


# --- lint ------------------------------------------------------------------------------------------------


def alarm_problems(
    alarms: Any,
    params_schema: dict,
    *,
    resources: set[str] | None = None,
    runbook: str = "",
    where: str = "bundle.yaml /alarms",
) -> list[str]:
    """What is wrong with a bundle's alarms, each with its JSON pointer: names, the metric's form and resource,
    the comparison, threshold, duration and severity, the runbook section, and the remedy (its param exists, is
    an enum for ``step`` or a number for ``multiply``, and its result is valid against the param's schema)."""
    if alarms in (None, []):
        return []
    if not isinstance(alarms, list):
        return [f"{where}: must be a list of alarms (name, metric, comparison, threshold, duration, severity)"]
    problems: list[str] = []
    seen: set[str] = set()
    sections = runbook_sections(runbook)
    for index, alarm in enumerate(alarms):
        here = f"{where}/{index}"
        if not isinstance(alarm, dict):
            problems.append(f"{here}: must be a mapping")
            continue
        unknown = sorted(set(map(str, alarm)) - KEYS)
        if unknown:
            problems.append(f"{here}: unknown key(s) {', '.join(unknown)}; an alarm has {', '.join(sorted(KEYS))}")
        name = alarm.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.append(f"{here}/name: {name!r} must match {NAME_RE.pattern}")
        elif name in seen:
            problems.append(f"{here}/name: {name!r} is already the name of another alarm")
        else:
            seen.add(name)
        metric = alarm.get("metric")
        match = METRIC_RE.match(metric) if isinstance(metric, str) else None
        if not match:
            problems.append(
                f"{here}/metric: {metric!r} must be <resource type>.<resource name>.<metric>, "
                "such as sandbox_database.main.storage_used_percent"
            )
        elif resources is not None and f"{match['type']}.{match['name']}" not in resources:
            problems.append(
                f"{here}/metric: the module has no resource {match['type']}.{match['name']} "
                f"(it has {', '.join(sorted(resources)) or 'none'})"
            )
        if alarm.get("comparison") not in COMPARISONS:
            problems.append(f"{here}/comparison: {alarm.get('comparison')!r} must be one of {', '.join(COMPARISONS)}")
        if _number(alarm.get("threshold")) is None:
            problems.append(f"{here}/threshold: {alarm.get('threshold')!r} is not a number")
        if duration_seconds(alarm.get("duration", 0)) is None:
            problems.append(
                f"{here}/duration: {alarm.get('duration')!r} must be a time such as 30s, 5m or 1h (at most 24h)"
            )
        if alarm.get("severity", "warning") not in SEVERITIES:
            problems.append(f"{here}/severity: {alarm.get('severity')!r} must be one of {', '.join(SEVERITIES)}")
        for key in ("title", "summary"):
            if key in alarm and not isinstance(alarm[key], str):
                problems.append(f"{here}/{key}: must be text")
        section = alarm.get("runbook")
        if section is not None:
            if not isinstance(section, str) or not section.strip():
                problems.append(f"{here}/runbook: must be the heading of a section of operator.md")
            elif section not in sections:
                problems.append(
                    f"{here}/runbook: operator.md has no section {section!r} "
                    f"(its headings: {', '.join(repr(s) for s in sections) or 'none'})"
                )
        if "remedy" in alarm:
            problems += _remedy_problems(alarm["remedy"], params_schema, f"{here}/remedy")
    return problems


def _remedy_problems(remedy: Any, params_schema: dict, here: str) -> list[str]:
    if not isinstance(remedy, dict):
        return [
            f"{here}: must be a mapping such as {{param: size, step: next}} or {{param: storage_gb, multiply: 1.5}}"
        ]
    unknown = sorted(set(map(str, remedy)) - REMEDY_KEYS)
    if unknown:
        return [f"{here}: unknown key(s) {', '.join(unknown)}; a remedy has param and one of step or multiply"]
    name = remedy.get("param")
    if not isinstance(name, str) or not name or name.startswith("/"):
        return [f"{here}/param: {name!r} must name a top-level param"]
    sub = param_schema(params_schema, name)
    if sub is None:
        return [f"{here}/param: there is no param {name!r} in /params"]
    label = title(sub, name)
    if sub.get("x-sensitive") or sub.get("x-immutable") or sub.get("readOnly"):
        return [f"{here}/param: {label} cannot be changed by a remedy (it is sensitive, immutable or read-only)"]
    if ("step" in remedy) == ("multiply" in remedy):
        return [f"{here}: give exactly one of step: next or multiply: <factor>"]
    if "step" in remedy:
        if remedy["step"] != "next":
            return [f"{here}/step: {remedy['step']!r}: the only step is next (the next larger value)"]
        choices = options(sub)
        if not choices or len(choices) < 2:
            return [f"{here}/param: {label} is not an enum with two or more values, so it has no next value"]
        starts = [v for v, _ in choices[:-1]]
    else:
        factor = _number(remedy["multiply"])
        if factor is None or factor <= 0:
            return [f"{here}/multiply: {remedy['multiply']!r} must be a positive number"]
        kinds = sub.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        if not kinds & {"integer", "number"}:
            return [f"{here}/param: {label} is not a number, so it cannot be multiplied"]
        starts = [v for v in (sub.get("default"), sub.get("minimum")) if _number(v) is not None] or [1]
    validator = Draft202012Validator(sub)
    problems = []
    for start in starts:
        after = _apply(remedy, sub, start)
        if after is None:
            continue
        errors = [e.message for e in validator.iter_errors(after)]
        if errors:
            problems.append(
                f"{here}: from {as_text(start)!r} the remedy gives {as_text(after)!r}, which {label} refuses: "
                f"{errors[0]}"
            )
    return problems


def alarm_named(alarms: list | None, name: str) -> dict | None:
    return next((a for a in alarms or [] if isinstance(a, dict) and a.get("name") == name), None)


def module_alarms(alarms: list | None) -> list[dict]:
    """The alarms as the module receives them in ``slipway.alarms``: everything the cloud needs to evaluate
    one, with the metric split into the resource address and the metric's own name."""
    found = []
    for alarm in alarms or []:
        match = METRIC_RE.match(str(alarm.get("metric", "")))
        if not match:
            continue
        found.append(
            {
                "name": alarm["name"],
                "resource": f"{match['type']}.{match['name']}",
                "metric": match["metric"],
                "comparison": alarm["comparison"],
                "threshold": alarm["threshold"],
                "duration_seconds": duration_seconds(alarm.get("duration", 0)) or 0,
                "severity": alarm.get("severity", "warning"),
                "summary": alarm.get("summary") or alarm.get("title") or alarm["name"],
            }
        )
    return found


__all__ = [
    "COMPARISONS",
    "Remedy",
    "alarm_named",
    "alarm_problems",
    "duration_seconds",
    "module_alarms",
    "remedy_params",
    "runbook_sections",
    "section_anchor",
]
