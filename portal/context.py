"""What the current request is, for code that has no request: services, signals, the audit service.

The request-id middleware binds these for the length of a request; Celery tasks and management
commands run with the defaults (no request id, channel ``system``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("slipway_request_id", default="")
_channel: ContextVar[str] = ContextVar("slipway_channel", default="")


def current_request_id() -> str:
    return _request_id.get()


def current_channel() -> str:
    """The door the current request came in by (ui, api, admin), or "" outside a request."""
    return _channel.get()


@contextlib.contextmanager
def bound(*, request_id: str, channel: str) -> Iterator[None]:
    id_token = _request_id.set(request_id)
    channel_token = _channel.set(channel)
    try:
        yield
    finally:
        _request_id.reset(id_token)
        _channel.reset(channel_token)
