"""Reads of the sandbox's store. Every read settles pending operations first, so what a client
sees is what the cloud holds at that moment (a database whose creation time has passed is
available; one whose deletion time has passed is gone)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from .alarms import evaluate_pending
from .errors import NotFound
from .models import BUSY, Event, Resource, Status


def settle() -> None:
    """Finish every operation whose time has come. Idempotent and safe to run concurrently."""
    now = timezone.now()
    evaluate_pending(now)
    due = Resource.objects.filter(ready_at__lte=now)
    # Check first: an UPDATE that matches nothing still takes SQLite's write lock.
    if not due.exists():
        return
    due.filter(status__in=BUSY).update(status=Status.AVAILABLE, ready_at=None)
    due.filter(status=Status.DELETING).delete()


def resources(*, kind: str = "", name: str = "", q: str = "", status: str = "") -> QuerySet[Resource]:
    """Resources, filtered by kind, exact name, a text found in the name or id, and status."""
    settle()
    found = Resource.objects.all()
    if kind:
        found = found.filter(kind=kind)
    if name:
        found = found.filter(name=name)
    if q:
        found = found.filter(Q(name__icontains=q) | Q(id__icontains=q))
    if status:
        found = found.filter(status=status)
    return found.order_by("kind", "name")


def resource(resource_id: str) -> Resource:
    settle()
    found = Resource.objects.filter(pk=resource_id).first()
    if found is None:
        raise NotFound(f"No resource {resource_id!r}: it does not exist or was deleted.")
    return found


def events(*, resource_id: str = "", limit: int = 50) -> QuerySet[Event]:
    found = Event.objects.all()
    if resource_id:
        found = found.filter(resource_id=resource_id)
    return found[:limit]
