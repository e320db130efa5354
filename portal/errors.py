"""The errors every layer raises, and every door turns into the same answer.

A service raises them; a page shows them beside the field (or at the top), the API answers them
as ``{"message": ..., "errors": {"/json/pointer": [...]}}`` (:func:`portal.api.exception_handler`).
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request that cannot be carried out, with a message for the user (and the form field at fault)."""

    def __init__(self, message: str, *, field: str | None = None):
        self.message = message
        self.field = field
        super().__init__(message)


class ParamsInvalid(Exception):
    """Params that fail the schema; ``errors`` maps JSON pointers (into the params) to messages."""

    def __init__(self, errors: dict[str, list[str]], message: str = "The parameters are not valid."):
        self.errors = errors
        self.message = message
        super().__init__(message)


class Conflict(ServiceError):
    """A request that the object's current state refuses (a run already finished, a configuration changed by
    someone else since it was read, a decision already taken): the API answers 409, a page shows the message."""
