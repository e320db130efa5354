"""The sandbox API's errors: one JSON shape, ``{"message", "errors": {pointer: [messages]}}``."""

from __future__ import annotations


class SandboxError(Exception):
    status = 400

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        self.message = message
        self.errors = errors or {}
        super().__init__(message)

    def as_json(self) -> dict:
        return {"message": self.message, "errors": self.errors}


class Invalid(SandboxError):
    status = 400


class NotFound(SandboxError):
    status = 404


class Conflict(SandboxError):
    """The request is fine but the resource's state refuses it now (busy, name taken, changed meanwhile)."""

    status = 409
