"""The connections part of the new and edit forms: a select per connection of the compatible producers in the
environment, the environment's default preselected, and in words why the others cannot be picked."""

from __future__ import annotations

from bundles.models import ResourceType

from ..models import Deployment, Environment
from .selectors import candidates

PREFIX = "connection/"


def posted_connections(version, data) -> dict[str, str] | None:
    """``{name: producer id}`` as posted (an empty value: not connected), or None when the form has none."""
    if not version.connections or not any(k.startswith(PREFIX) for k in data):
        return None
    return {c["name"]: data.get(PREFIX + c["name"], "") for c in version.connections}


def connection_fields(
    *, environment: Environment | None, version, deployment: Deployment | None = None, data=None, errors=None
) -> list[dict]:
    """What the form draws for each of the version's connections."""
    if environment is None or not version.connections:
        return []
    errors = errors or {}
    posted = posted_connections(version, data or {}) or {}
    current = (deployment.connections or {}) if deployment is not None else {}
    titles = dict(ResourceType.objects.order_by("name", "-major", "-minor", "-patch").values_list("name", "title"))
    fields = []
    for connection in version.connections:
        name = connection["name"]
        found = candidates(environment, connection, consumer=deployment)
        usable = [c for c in found if c.compatible]
        if name in posted:
            selected = posted[name]
        elif name in current:
            selected = current[name]
        else:
            default = next((c for c in usable if c.default), None) if connection.get("env_default") else None
            only = usable[0] if len(usable) == 1 and connection.get("required", True) else None
            chosen = default or only
            selected = str(chosen.deployment.pk) if chosen else ""
        type_title = titles.get(connection["type"], connection["type"])
        fields.append(
            {
                "name": name,
                "input": PREFIX + name,
                "title": connection.get("title") or name,
                "description": connection.get("description", ""),
                "type": connection["type"],
                "type_title": type_title,
                "required": connection.get("required", True),
                "options": [(str(c.deployment.pk), c.label) for c in usable],
                "selected": selected,
                "unavailable": [" ".join(c.problems) for c in found if not c.compatible],
                "empty": "" if usable else _nothing(environment, type_title, found),
                "errors": errors.get(f"/connections/{name}", []),
            }
        )
    return fields


def _nothing(environment: Environment, type_title: str, found: list) -> str:
    if found:
        return f"No {type_title.lower()} in {environment} can be connected now (see why below)."
    return f"There is no {type_title.lower()} in {environment} yet: deploy one first, then connect it here."


def split_errors(errors: dict) -> tuple[dict, dict]:
    """(the params' errors, the connections' errors)."""
    params = {k: v for k, v in errors.items() if not k.startswith("/connections/")}
    return params, {k: v for k, v in errors.items() if k.startswith("/connections/")}
