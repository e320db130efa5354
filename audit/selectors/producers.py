"""Connection changes read with the producers' names: a history row keeps a producer's id, people read its name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace

from deployments.models import Deployment

from ..diff import CONNECTIONS, Change


def _is_connection(change: Change) -> bool:
    return change.path.startswith(CONNECTIONS + ".") or change.path.startswith(CONNECTIONS + "[")


def name_producers(groups: Iterable[list[Change]]) -> None:
    """Replace, in place, the producer ids of every connection change in ``groups`` by the producers' names
    (one query for all of them); an id whose deployment is gone stays as it is."""
    groups = list(groups)
    ids = {
        value
        for changes in groups
        for change in changes
        if _is_connection(change)
        for value in (change.old, change.new)
        if isinstance(value, str) and value
    }
    if not ids:
        return
    valid = [i for i in ids if _uuid(i)]
    names = {str(pk): name for pk, name in Deployment.objects.filter(pk__in=valid).values_list("pk", "name")}
    for changes in groups:
        for index, change in enumerate(changes):
            if _is_connection(change):
                changes[index] = replace(
                    change, old=names.get(change.old, change.old), new=names.get(change.new, change.new)
                )


def _uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
