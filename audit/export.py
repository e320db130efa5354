"""Evidence export: the timeline and the estate diff of a window, and the estate as of a moment, as CSV or
JSON, streamed.

Rows are produced as the database cursor yields them (``iterator()``), so a year of events
never sits in memory at once; the JSON is written as an array, one element at a time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse

from portal.spreadsheets import spreadsheet_safe

from .selectors import EstateDiff, TimelineEntry

# Where a record's subject was, and what it is: the same columns in both exports.
_WHERE = ["name", "where", "tier", "team", "bundle"]
TIMELINE_FIELDS = [
    *("at", "kind", "id", "event_type", "actor", "channel", "request_id", "deployment"),
    *_WHERE,
    *("approval_basis", "detail", "data"),
]
DIFF_FIELDS = [
    *("kind", "deployment"),
    *_WHERE,
    *("old_version", "new_version", "old_status", "new_status", "path", "change", "old", "new", "runs"),
    "applied_without_approval",
]

AS_OF_FIELDS = [
    *("deployment", "history_id", "since", "name", "team", "project", "environment", "tier"),
    *("bundle", "bundle_version", "status", "version", "params"),
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)
    return spreadsheet_safe(value)


def _csv(fields: list[str], rows: Iterable[dict]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(fields)
    for row in rows:
        yield writer.writerow([_cell(row.get(name)) for name in fields])


def _json(head: dict, key: str, rows: Iterable[dict]) -> Iterator[str]:
    encoder = DjangoJSONEncoder(ensure_ascii=False)
    yield encoder.encode(head)[:-1] + f', "{key}": ['
    first = True
    for row in rows:
        yield ("" if first else ",") + "\n" + encoder.encode(row)
        first = False
    yield "\n]}\n"


def timeline_rows(queryset) -> Iterator[dict]:
    for row in queryset.iterator(chunk_size=2000):
        yield TimelineEntry.from_row(row).as_dict()


def as_of_rows(queryset) -> Iterator[dict]:
    """Each deployment as it was at the moment (the API's as-of fields; secrets are stored masked in history)."""
    for row in queryset.select_related("bundle_version__bundle").iterator(chunk_size=2000):
        yield {
            "deployment": str(row.id),
            "history_id": row.history_id,
            "since": row.history_date.isoformat(),
            "name": row.name,
            "team": row.scope_team,
            "project": row.scope_project,
            "environment": row.scope_environment,
            "tier": row.scope_tier,
            "bundle": row.bundle_version.bundle.name,
            "bundle_version": row.bundle_version.version,
            "status": row.status,
            "version": row.version,
            "params": row.params,
        }


def diff_rows(diff: EstateDiff) -> Iterator[dict]:
    """One row per changed key (and one per deployment added or removed without keys)."""
    for entry in diff.entries:
        base = entry.as_dict()
        runs = "; ".join(
            f"#{r.id} {r.action} {r.status} by {r.requested_by} via {r.channel} basis={r.approval_basis or 'none'}"
            for r in entry.runs
        )
        common = {k: base[k] for k in DIFF_FIELDS if k in base}
        common["runs"] = runs
        if entry.version_changed:
            yield {
                **common,
                "path": "(bundle version)",
                "change": "changed",
                "old": entry.old_version,
                "new": entry.new_version,
            }
        if not entry.changes:
            yield {**common, "path": "", "change": entry.kind}
        for change in entry.changes:
            yield {**common, "path": change.path, "change": change.kind, "old": change.old, "new": change.new}


def _filename(stem: str, start: datetime | None, end: datetime | None, fmt: str) -> str:
    span = f"{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}" if start and end else "all"
    return f"slipway-{stem}-{span}.{fmt}"


def stream(*, stem: str, fmt: str, rows: Iterable[dict], fields: list[str], head: dict, start, end):
    if fmt == "json":
        body, content_type = _json(head, stem, rows), "application/json"
    else:
        body, content_type = _csv(fields, rows), "text/csv; charset=utf-8"
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{_filename(stem, start, end, fmt)}"'
    return response
