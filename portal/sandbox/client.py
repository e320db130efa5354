"""The provider's HTTP client for the sandbox API: JSON over urllib (no extra import cost at start-up).

Free of Django: it runs inside the provider process, which the engine starts several times a run.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

USER_AGENT = "terraform-provider-sandbox/1.0.0"


class ClientError(Exception):
    """The sandbox refused a request (4xx) or could not be reached; ``status`` 0 when unreachable."""

    def __init__(self, status: int, message: str, errors: dict | None = None):
        self.status = status
        self.message = message
        self.errors = errors or {}
        super().__init__(message)

    def detail(self) -> str:
        lines = [self.message]
        for pointer, problems in self.errors.items():
            lines += [f"{pointer}: {p}" for p in problems]
        return "\n".join(lines)


class Stopped(Exception):
    """The engine asked the provider to stop (the run was cancelled) while it waited."""


class SandboxClient:
    def __init__(self, endpoint: str, token: str, *, request_timeout: float = 30, retries: int = 3):
        self.endpoint = endpoint.rstrip("/") + "/"
        self.token = token
        self.request_timeout = request_timeout
        self.retries = retries

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        """(status, JSON body) for 2xx and 404; ClientError otherwise. Retries when unreachable or 5xx."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.endpoint + path.lstrip("/"),
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
                    return response.status, _json(response.read())
            except urllib.error.HTTPError as exc:
                payload = _json(exc.read()) or {}
                if exc.code == 404:
                    return 404, payload
                if exc.code >= 500 and attempt <= self.retries:
                    time.sleep(0.5 * attempt)
                    continue
                message = payload.get("message") if isinstance(payload, dict) else None
                raise ClientError(exc.code, message or f"HTTP {exc.code}", (payload or {}).get("errors")) from None
            except (urllib.error.URLError, OSError) as exc:
                if attempt <= self.retries:
                    time.sleep(0.5 * attempt)
                    continue
                reason = getattr(exc, "reason", exc)
                raise ClientError(0, f"The sandbox API at {self.endpoint} cannot be reached: {reason}") from None

    def wait(
        self,
        resource_id: str,
        done: Callable[[dict | None], bool],
        *,
        timeout: float,
        stopping: Callable[[], bool],
    ) -> dict | None:
        """Poll a resource until ``done(resource or None when gone)``; sleeps as long as the cloud says is left."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.call("GET", f"resources/{resource_id}/")
            current = None if status == 404 else body
            if done(current):
                return current
            if stopping():
                raise Stopped(f"stopped while waiting for {resource_id}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{resource_id} was still {current and current.get('status')} after {timeout:.0f} s")
            hint = float((current or {}).get("ready_in_seconds") or 0)
            time.sleep(min(max(hint, 0.05), 2.0, left))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
