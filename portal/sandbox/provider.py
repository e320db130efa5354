"""The sandbox cloud's OpenTofu/Terraform provider, ``slipway.local/slipway/sandbox``, written with ``tf``.

It talks to the sandbox's HTTP API exactly as a real provider talks to its cloud: create, then
poll until the resource is available; read what the cloud holds now (so a change made in the
console is drift the engine sees, and a resource deleted there is reported gone); modify in place
what can change in place (attributes that cannot force a replacement); delete and wait until gone.

Configuration: ``provider "sandbox" { endpoint, token, timeout_seconds }``, each optional, falling
back to the ``SANDBOX_ENDPOINT`` and ``SANDBOX_TOKEN`` environment variables, which Slipway's
runner sets for every run. Runs in its own process without Django (see ``install.py``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from tf import schema, types
from tf.iface import (
    Config,
    CreateContext,
    DataSource,
    DeleteContext,
    Provider,
    ReadContext,
    Resource,
    State,
    UpdateContext,
)
from tf.types import Unknown
from tf.utils import Diagnostics

from .client import ClientError, SandboxClient, Stopped
from .install import SOURCE
from .kinds import KINDS, NAME_PATTERN, NAME_RULE, Field, Kind

# Set when the engine interrupts us (a cancelled run): waits end early, so what was created is
# returned to the engine and recorded in state instead of being forgotten.
STOPPING = threading.Event()
BUSY = ("creating", "modifying")

_TF_TYPES = {"string": types.String, "integer": types.Number, "number": types.Number, "bool": types.Bool}


class SandboxProvider(Provider):
    def __init__(self):
        self.client: SandboxClient | None = None
        self.timeout = 1800.0

    def full_name(self) -> str:
        return SOURCE

    def get_model_prefix(self) -> str:
        return "sandbox_"

    def get_provider_schema(self, diags: Diagnostics) -> schema.Schema:
        return schema.Schema(
            attributes=[
                schema.Attribute(
                    "endpoint", types.String(), optional=True, description="The sandbox API; default $SANDBOX_ENDPOINT."
                ),
                schema.Attribute(
                    "token", types.String(), optional=True, sensitive=True, description="Default $SANDBOX_TOKEN."
                ),
                schema.Attribute(
                    "timeout_seconds",
                    types.Number(),
                    optional=True,
                    description="How long to wait for an operation to complete (default 1800).",
                ),
            ]
        )

    def validate_config(self, diags: Diagnostics, config: Config):
        timeout = config.get("timeout_seconds")
        if isinstance(timeout, (int, float)) and timeout <= 0:
            diags.add_error("timeout_seconds must be positive", path=["timeout_seconds"])

    def configure_provider(self, diags: Diagnostics, config: Config):
        endpoint = _known(config.get("endpoint")) or os.environ.get("SANDBOX_ENDPOINT", "")
        token = _known(config.get("token")) or os.environ.get("SANDBOX_TOKEN", "")
        token = token.strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in token + endpoint):
            diags.add_error(
                "The sandbox provider's endpoint or token holds control characters",
                "Check SANDBOX_ENDPOINT and SANDBOX_TOKEN (a line break copied with the token, for example).",
            )
            return
        if not endpoint or not token:
            diags.add_error(
                "The sandbox provider is not configured",
                "Set SANDBOX_ENDPOINT and SANDBOX_TOKEN (Slipway's runner sets both for every run), "
                'or endpoint and token in the provider "sandbox" block.',
            )
            return
        self.client = SandboxClient(endpoint, token)
        self.timeout = float(_known(config.get("timeout_seconds")) or 1800)

    def get_data_sources(self) -> list[type[DataSource]]:
        return []

    def get_resources(self) -> list[type[Resource]]:
        return RESOURCES


def _known(value: Any) -> Any:
    return None if value is Unknown else value


def _tf_attribute(field: Field) -> schema.Attribute:
    kind = _TF_TYPES[field.type]()
    common = {"description": field.description or field.title, "requires_replace": field.replace}
    if field.required:
        return schema.Attribute(field.name, kind, required=True, **common)
    if field.write_only:
        # Sent when set; the cloud generates one otherwise and returns it once: kept from state after.
        return schema.Attribute(field.name, kind, optional=True, computed=True, sensitive=True, **common)
    if field.default is not None:
        # The plan shows the cloud's default instead of "known after apply".
        return schema.Attribute(field.name, kind, optional=True, computed=True, default=field.default, **common)
    return schema.Attribute(field.name, kind, optional=True, **common)


def _field_problem(field: Field, value: Any) -> str | None:
    if field.type == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if field.type in ("integer", "number"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "must be a number"
        if field.type == "integer" and value != int(value):
            return "must be a whole number"
    if field.enum and value not in field.enum:
        return "must be one of: " + ", ".join(str(v) for v in field.enum)
    if field.minimum is not None and value < field.minimum:
        return f"must be at least {field.minimum:g}"
    if field.maximum is not None and value > field.maximum:
        return f"must be at most {field.maximum:g}"
    if field.pattern and isinstance(value, str) and not re.match(field.pattern, value):
        return f"must match {field.pattern}"
    return None


class SandboxResource(Resource):
    """One class per kind (see RESOURCES below): ``kind`` says which."""

    kind: Kind

    def __init__(self, provider: SandboxProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return cls.kind.name

    @classmethod
    def get_schema(cls) -> schema.Schema:
        attributes = [
            schema.Attribute("id", types.String(), computed=True, description="The cloud's id for the resource."),
            schema.Attribute("name", types.String(), required=True, requires_replace=True, description=f"{NAME_RULE}."),
            *(_tf_attribute(f) for f in cls.kind.fields),
            schema.Attribute("tags", types.Map(types.String()), optional=True, computed=True, default={}),
            *(
                schema.Attribute(c.name, _TF_TYPES[c.type](), computed=True, sensitive=c.sensitive, description=c.title)
                for c in cls.kind.computed
            ),
            schema.Attribute("created_at", types.String(), computed=True, description="RFC 3339."),
        ]
        return schema.Schema(version=1, attributes=attributes, description=cls.kind.description)

    # --- plan-time checks: errors in the plan, not half-way through an apply -------------------

    def validate(self, diags: Diagnostics, type_name: str, config: Config):
        super().validate(diags, type_name, config)
        name = config.get("name")
        if isinstance(name, str) and not re.match(NAME_PATTERN, name):
            diags.add_error(f"Invalid {type_name} name {name!r}", f"A name is {NAME_RULE}.", path=["name"])
        for field in self.kind.fields:
            value = config.get(field.name)
            if not isinstance(value, (str, int, float, bool)):
                continue  # null, or unknown until apply (the engine sends refined unknowns as msgpack extensions)
            problem = _field_problem(field, value)
            if problem:
                diags.add_error(f"Invalid {type_name}.{field.name}: {problem}", path=[field.name])

    # --- CRUD -------------------------------------------------------------------------------------

    def _state(self, found: dict, secrets: dict) -> State:
        """The state the engine records: what the cloud holds now, plus write-only values it never returns."""
        state: dict[str, Any] = {"id": found["id"], "name": found["name"]}
        for field in self.kind.fields:
            state[field.name] = secrets.get(field.name) if field.write_only else found["attributes"].get(field.name)
        state["tags"] = found.get("tags") or {}
        for computed in self.kind.computed:
            state[computed.name] = found["computed"].get(computed.name)
        state["created_at"] = found["created_at"]
        return state

    def _secrets(self, state: State | None) -> dict:
        return {f.name: state.get(f.name) for f in self.kind.fields if f.write_only and state} if state else {}

    def _client(self, diags: Diagnostics) -> SandboxClient | None:
        if self.provider.client is None:
            diags.add_error("The sandbox provider is not configured")
        return self.provider.client

    def _call(self, ctx, method: str, path: str, body: dict | None, failure: str) -> tuple[int, dict] | None:
        """(status, body) from the sandbox; None once ``failure`` is on the engine's diagnostics.

        The callers check that the provider is configured first: a None here means the call failed.
        """
        try:
            return self.provider.client.call(method, path, body)
        except ClientError as exc:
            ctx.diagnostics.add_error(failure, exc.detail())
            return None

    def _wait(self, ctx, resource_id: str, done, what: str) -> tuple[bool, dict | None]:
        """(finished, resource) after waiting; warns or errors on the engine's diagnostics otherwise."""
        client = self.provider.client
        try:
            return True, client.wait(resource_id, done, timeout=self.provider.timeout, stopping=STOPPING.is_set)
        except Stopped:
            ctx.diagnostics.add_warning(
                f"Interrupted while {resource_id} was {what}",
                "It is recorded in state as it is now; the next run reads it again.",
            )
        except TimeoutError as exc:
            ctx.diagnostics.add_error(f"Timed out while {resource_id} was {what}", str(exc))
        except ClientError as exc:
            ctx.diagnostics.add_error(f"The sandbox failed while {resource_id} was {what}", exc.detail())
        return False, None

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        if self._client(ctx.diagnostics) is None:
            return None
        attributes = {f.name: planned[f.name] for f in self.kind.fields if planned.get(f.name) not in (None, Unknown)}
        body = {"kind": self.kind.name, "name": planned["name"], "attributes": attributes}
        body["tags"] = planned.get("tags") if isinstance(planned.get("tags"), dict) else {}
        answer = self._call(ctx, "POST", "resources/", body, f"Could not create {ctx.type_name} {planned['name']!r}")
        if answer is None:
            return None
        _, created = answer
        secrets = {k: v for k, v in self._secrets(planned).items() if v is not Unknown} | created.get("secrets", {})
        finished, found = self._wait(
            ctx, created["id"], lambda r: r is None or r["status"] == "available", "being created"
        )
        if finished and found is None:
            ctx.diagnostics.add_error(f"{created['id']} was deleted while it was being created")
            return None
        return self._state(found or created, secrets)

    def read(self, ctx: ReadContext, current: State) -> State | None:
        if self._client(ctx.diagnostics) is None:
            return current
        answer = self._call(
            ctx, "GET", f"resources/{current['id']}/", None, f"Could not read {ctx.type_name} {current.get('id')!r}"
        )
        if answer is None:
            return current
        status, found = answer
        if status == 404 or found.get("status") == "deleting":
            return None  # deleted outside the engine: the engine plans to create it again
        return self._state(found, self._secrets(current))

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        if self._client(ctx.diagnostics) is None:
            return None
        resource_id = current["id"]
        # A console change may still be in progress: the cloud refuses a second one meanwhile.
        finished, found = self._wait(ctx, resource_id, lambda r: r is None or r["status"] not in BUSY, "busy")
        if not finished:
            return current
        if found is None:
            ctx.diagnostics.add_error(f"{resource_id} was deleted outside the engine", "Plan again to recreate it.")
            return None
        changed = {}
        for field in self.kind.fields:
            value = planned.get(field.name)
            if value is Unknown or field.replace or (field.write_only and value is None):
                continue
            if value != current.get(field.name):
                changed[field.name] = value
        body: dict[str, Any] = {"attributes": changed}
        if isinstance(planned.get("tags"), dict) and planned["tags"] != found.get("tags"):
            body["tags"] = planned["tags"]
        answer = self._call(
            ctx, "PATCH", f"resources/{resource_id}/", body, f"Could not modify {ctx.type_name} {planned['name']!r}"
        )
        if answer is None:
            return current
        status, updated = answer
        if status == 404:
            ctx.diagnostics.add_error(f"{resource_id} was deleted outside the engine", "Plan again to recreate it.")
            return None
        secrets = self._secrets(current) | {k: v for k, v in self._secrets(planned).items() if v not in (None, Unknown)}
        finished, found = self._wait(
            ctx, resource_id, lambda r: r is None or r["status"] == "available", "being modified"
        )
        return self._state(found or updated, secrets)

    def delete(self, ctx: DeleteContext, current: State):
        if self._client(ctx.diagnostics) is None:
            return None
        failure = f"Could not delete {ctx.type_name} {current.get('name')!r}"
        answer = self._call(ctx, "DELETE", f"resources/{current['id']}/", None, failure)
        if answer is None:
            return current
        status, _ = answer
        if status != 404:
            self._wait(ctx, current["id"], lambda r: r is None, "being deleted")
        return None


RESOURCES: list[type[Resource]] = [
    type(f"Sandbox{kind.name.title()}", (SandboxResource,), {"kind": kind}) for kind in KINDS.values()
]


def _die_with_engine() -> None:
    """Linux: end with the engine that started us (an orphaned provider would serve nobody forever)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _writable_home() -> None:
    """``tf`` caches its TLS certificate under ~/.cache; a read-only HOME must not stop the provider."""
    try:
        (Path.home() / ".cache").mkdir(parents=True, exist_ok=True)
    except OSError:
        os.environ["HOME"] = tempfile.gettempdir()


def _graceful_stop() -> None:
    """Make the protocol's StopProvider mean what it says: end in-flight operations, then wait to be shut down.

    ``tf`` stops its gRPC server the moment StopProvider arrives, which cancels an apply in progress: the
    engine then reports "Plugin did not respond" and never records a resource the cloud already made.
    Here StopProvider only sets STOPPING (waits return what exists now); the server stops on the
    controller's Shutdown, which the engine sends once the in-flight calls have answered.
    """
    from tf import runner

    class StopGracefully(runner._ShutdownInterceptor):
        def intercept_service(self, continuation, handler_call_details):
            if handler_call_details.method == "/tfplugin6.Provider/StopProvider":
                STOPPING.set()
                return continuation(handler_call_details)
            return super().intercept_service(continuation, handler_call_details)

    runner._ShutdownInterceptor = StopGracefully


def main() -> None:
    _die_with_engine()
    # The engine forwards an interrupt (cancel) to its whole process group; finish the current call
    # promptly instead of dying in the middle of it, and let the engine stop us when it is done.
    signal.signal(signal.SIGINT, lambda *_: STOPPING.set())
    _writable_home()
    _graceful_stop()
    from tf.runner import run_provider

    run_provider(SandboxProvider())


if __name__ == "__main__":
    main()
