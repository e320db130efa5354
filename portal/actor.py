"""Who did something and through which door: the same few lines every service used to repeat."""

from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    """The door a change came in by; recorded on every history row, audit event and run."""

    UI = "ui", "Web UI"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    BULK = "bulk", "Bulk change"
    RESTORE = "restore", "Restore"
    SYSTEM = "system", "System"


def actor_user(actor):
    """The user to store in a foreign key: None for the system (a task, a shell) or an anonymous actor."""
    return actor if getattr(actor, "is_authenticated", False) else None


def actor_name(actor) -> str:
    """The name stored as text beside (or instead of) the user, so a record outlives its user."""
    user = actor_user(actor)
    return user.get_username() if user is not None else "system"


def actor_fields(actor, field: str = "requested_by") -> dict:
    """A record's actor columns: the user (``field``) and the name kept as text beside it (``field_name``)."""
    return {field: actor_user(actor), f"{field}_name": actor_name(actor)}
