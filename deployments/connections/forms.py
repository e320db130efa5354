"""The connections part of the new and edit forms: a select per connection of the compatible producers in the
environment, the environment's default preselected, and in words why the others cannot be picked."""

from __future__ import annotations

from dataclasses import dataclass

from bundles.models import ResourceType
from bundles.options import places

from ..models import Deployment, Environment
from .selectors import GONE, candidates

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
    redraws = {place.spec.get("connection") for place in places(version.params_schema)}
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
                "redraws": name in redraws,  # a param takes its choices from it: the params redraw on a change
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


# --- wiring on the environment canvas --------------------------------------------------------------


@dataclass
class Slot:
    """One connection of one deployment on the canvas: a consumer's port, connected or open."""

    consumer: Deployment
    connection: dict
    producer: Deployment | None

    @property
    def value(self) -> str:
        return f"{self.consumer.pk}/{self.connection['name']}"

    @property
    def title(self) -> str:
        return self.connection.get("title") or self.connection["name"]

    @property
    def required(self) -> bool:
        return self.connection.get("required", True)

    @property
    def label(self) -> str:
        now = f"connected to {self.producer.name}" if self.producer else "not connected"
        optional = "" if self.required else ", optional"
        return f"{self.consumer.name} · {self.title} ({self.connection['type']}{optional}): {now}"


def canvas_slots(deployments: list[Deployment]) -> list[Slot]:
    """Every connection of the environment's deployments that may still be changed (not being destroyed)."""
    by_id = {str(d.pk): d for d in deployments}
    slots = []
    for deployment in deployments:
        if deployment.status in GONE:
            continue
        wired = deployment.connections or {}
        for connection in deployment.bundle_version.connections:
            slots.append(Slot(deployment, connection, by_id.get(wired.get(connection["name"], ""))))
    return slots


def slot_choice(slots: list[Slot], value: str) -> Slot | None:
    """The slot a form names (``<deployment id>/<connection name>``), if it is one of ``slots``."""
    return next((s for s in slots if s.value == value), None)


def producer_choices(environment: Environment, slot: Slot) -> dict:
    """What the canvas offers for one slot: the compatible producers, and in words why the others are not."""
    found = candidates(environment, slot.connection, consumer=slot.consumer)
    usable = [c for c in found if c.compatible]
    return {
        "options": [(str(c.deployment.pk), c.label) for c in usable],
        "selected": str(slot.producer.pk) if slot.producer else "",
        "unavailable": [" ".join(c.problems) for c in found if not c.compatible],
        "empty": "" if usable else _nothing(environment, slot.connection["type"], found),
    }
