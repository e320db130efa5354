"""``x-observed-from``: which observed resource attribute feeds which param, so drift can be accepted.

A bundle marks a param with the address of a resource in its module and an attribute of it::

    storage_gb:
      type: integer
      x-observed-from: sandbox_database.main.storage_gb

When a drift check finds ``sandbox_database.main``'s ``storage_gb`` changed in the cloud, *Accept* makes
the observed value the param's new value (a normal params change, through policy). Attributes no param
maps from can only be reverted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bundles.schema.observed import observed_sources

__all__ = ["Acceptable", "acceptable", "observed_sources", "set_path"]


@dataclass(frozen=True)
class Acceptable:
    """One drifted attribute a param maps from: the param's path, its value now, and the value observed."""

    path: tuple[str, ...]
    title: str
    address: str
    attribute: str
    current: Any
    observed: Any

    @property
    def pointer(self) -> str:
        return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in self.path)


def _get(params: dict, path: tuple[str, ...]) -> Any:
    value: Any = params
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def set_path(params: dict, path: tuple[str, ...], value: Any) -> dict:
    """A copy of ``params`` with ``value`` at ``path`` (objects on the way created as needed)."""
    out = dict(params)
    cursor = out
    for part in path[:-1]:
        cursor[part] = dict(cursor.get(part) or {}) if isinstance(cursor.get(part), dict | None) else {}
        cursor = cursor[part]
    cursor[path[-1]] = value
    return out


def acceptable(schema: dict, resources: list[dict], params: dict, *, mask: str) -> list[Acceptable]:
    """The drifted attributes of ``resources`` (a check's findings) that a param maps from, with a value that can
    be taken (a masked, sensitive value cannot)."""
    sources = {s.source: s for s in observed_sources(schema)}
    found = []
    for resource in resources:
        for change in resource.get("changes") or []:
            source = sources.get(f"{resource['address']}.{change['path']}")
            if source is None or change.get("after") == mask:
                continue
            found.append(
                Acceptable(
                    path=source.path,
                    title=source.title,
                    address=resource["address"],
                    attribute=change["path"],
                    current=_get(params, source.path),
                    observed=change.get("after"),
                )
            )
    return found
