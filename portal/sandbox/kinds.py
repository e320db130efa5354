"""The sandbox's resource kinds: what each holds, what a client may set, what the cloud computes.

Plain data, imported by both sides of the wire: the sandbox server (validation, console forms) and
the provider (its schema), so the two never disagree. It must stay free of Django and of the
``tf`` package: the provider process imports it without Django, the server without ``tf``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Names: what real clouds accept for most identifiers (letters, digits, '-', '_', '.').
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
NAME_RULE = "1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit"
DOMAIN = "sandbox.internal"


@dataclass(frozen=True)
class Field:
    """A configurable attribute: sent by the client on create and update."""

    name: str
    type: str  # "string" | "integer" | "number" | "bool"
    title: str
    description: str = ""
    required: bool = False
    default: Any = None  # the cloud's value when the client leaves it out (None: left unset)
    replace: bool = False  # the cloud cannot change it in place: a new value means a new resource
    enum: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    unit: str = ""
    write_only: bool = False  # a secret: accepted, never returned (only its digest is kept)
    # A write-only value the cloud must use itself (an alarm's webhook URL with its token): kept sealed in the
    # cloud's store, still never returned by the API or the console, and never generated.
    kept: bool = False

    def json_schema(self) -> dict:
        schema: dict[str, Any] = {"type": {"bool": "boolean"}.get(self.type, self.type), "title": self.title}
        if not self.required:
            schema = {"anyOf": [schema, {"type": "null"}], "title": self.title}
            target = schema["anyOf"][0]
        else:
            target = schema
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum), ("pattern", self.pattern)):
            if value is not None:
                target[key] = value
        if self.type == "string" and not self.pattern:
            target["maxLength"] = 1024
        if self.enum:
            target["enum"] = list(self.enum)
        return schema


@dataclass(frozen=True)
class Computed:
    """An attribute only the cloud sets (an endpoint, a port, a generated secret)."""

    name: str
    type: str
    title: str
    sensitive: bool = False


@dataclass(frozen=True)
class Kind:
    """One resource type: ``sandbox_<name>`` in the provider, ``<name>`` in the API."""

    name: str
    title: str
    description: str
    id_prefix: str
    fields: tuple[Field, ...]
    computed: tuple[Computed, ...] = ()
    # Simulated seconds each operation takes before the resource is available again (or gone),
    # multiplied by the server's SLIPWAY_SANDBOX_DELAY_SCALE.
    create_seconds: float = 2.0
    update_seconds: float = 1.0
    delete_seconds: float = 2.0
    # Simulated utilisation a person or a test may set (issue 17: alarms watch these).
    metrics: tuple[str, ...] = ()
    summary: tuple[str, ...] = ()  # the fields the console's list shows

    @property
    def type_name(self) -> str:
        return f"sandbox_{self.name}"

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def defaults(self) -> dict:
        return {f.name: f.default for f in self.fields if not f.write_only}

    def computed_values(self, *, resource_id: str, name: str) -> dict:
        """What the cloud derives when it creates the resource; stable for its whole life."""
        return COMPUTE[self.name](resource_id, name)


def _kebab(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


NETWORK = Kind(
    name="network",
    title="Network",
    description="A private network (a VPC): databases and services placed in it reach each other privately.",
    id_prefix="net",
    fields=(
        Field(
            "cidr_block",
            "string",
            "Address range",
            "IPv4 range in CIDR notation.",
            default="10.0.0.0/16",
            replace=True,
            pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([89]|[12][0-9]|3[0-2])$",
        ),
        Field("dns_hostnames", "bool", "DNS host names", "Give each address a private host name.", default=True),
    ),
    computed=(Computed("dns_domain", "string", "DNS domain"),),
    create_seconds=3,
    update_seconds=1,
    delete_seconds=3,
    summary=("cidr_block",),
)

DATABASE = Kind(
    name="database",
    title="Database",
    description="A managed PostgreSQL server with one database in it.",
    id_prefix="db",
    fields=(
        Field("size", "string", "Size", "Instance size.", required=True, enum=("small", "medium", "large", "xlarge")),
        Field(
            "storage_gb", "integer", "Storage", "Allocated disk.", required=True, minimum=20, maximum=4096, unit="GiB"
        ),
        Field(
            "engine_version",
            "string",
            "Engine version",
            "PostgreSQL major version.",
            default="16",
            enum=("14", "15", "16", "17"),
        ),
        Field("high_availability", "bool", "High availability", "A standby in a second zone.", default=False),
        Field(
            "backup_retention_days",
            "integer",
            "Backup retention",
            "Days of automatic backups.",
            default=7,
            minimum=0,
            maximum=35,
            unit="days",
        ),
        Field(
            "database_name",
            "string",
            "Database name",
            "The database created inside the server.",
            default="app",
            replace=True,
            pattern=r"^[a-z][a-z0-9_]{0,62}$",
        ),
        Field(
            "network_id",
            "string",
            "Network",
            "The network the server is placed in (none: the default one).",
            replace=True,
        ),
        Field(
            "password",
            "string",
            "Password",
            "The application user's password; generated when left out.",
            write_only=True,
        ),
    ),
    computed=(
        Computed("endpoint", "string", "Endpoint"),
        Computed("port", "integer", "Port"),
        Computed("username", "string", "User name"),
    ),
    create_seconds=20,
    update_seconds=10,
    delete_seconds=8,
    metrics=("cpu_percent", "storage_used_percent", "connections"),
    summary=("size", "storage_gb", "engine_version", "high_availability"),
)

BUCKET = Kind(
    name="bucket",
    title="Bucket",
    description="An object storage bucket.",
    id_prefix="bkt",
    fields=(
        Field("versioning", "bool", "Versioning", "Keep previous versions of overwritten objects.", default=False),
        Field("encryption", "string", "Encryption", "Who holds the key.", default="standard", enum=("standard", "kms")),
        Field("block_public_access", "bool", "Block public access", "Refuse public objects.", default=True),
        Field(
            "lifecycle_days",
            "integer",
            "Expire objects after",
            "0 keeps objects forever.",
            default=0,
            minimum=0,
            maximum=3650,
            unit="days",
        ),
    ),
    computed=(Computed("url", "string", "URL"),),
    create_seconds=3,
    update_seconds=2,
    delete_seconds=3,
    metrics=("size_gb", "objects"),
    summary=("versioning", "encryption", "block_public_access"),
)

QUEUE = Kind(
    name="queue",
    title="Queue",
    description="A message queue.",
    id_prefix="q",
    fields=(
        Field("fifo", "bool", "FIFO", "Strict order and exactly-once delivery.", default=False, replace=True),
        Field(
            "retention_days",
            "integer",
            "Retention",
            "Days an unread message is kept.",
            default=4,
            minimum=1,
            maximum=14,
            unit="days",
        ),
        Field(
            "visibility_timeout_seconds",
            "integer",
            "Visibility timeout",
            "How long a received message stays hidden from other consumers.",
            default=30,
            minimum=0,
            maximum=43200,
            unit="s",
        ),
        Field("dead_letter_queue_id", "string", "Dead-letter queue", "Queue receiving messages that keep failing."),
        Field("max_receive_count", "integer", "Receives before dead-lettering", minimum=1, maximum=1000),
    ),
    computed=(Computed("url", "string", "URL"),),
    create_seconds=2,
    update_seconds=1,
    delete_seconds=2,
    metrics=("depth", "oldest_message_age_seconds"),
    summary=("fifo", "retention_days"),
)

SERVICE = Kind(
    name="service",
    title="Service",
    description="A container service behind a load balancer.",
    id_prefix="svc",
    fields=(
        Field(
            "image",
            "string",
            "Image",
            "Container image with a tag or digest.",
            required=True,
            pattern=r"^[^\s]{1,255}$",
        ),
        Field("port", "integer", "Port", "The port the container listens on.", default=8080, minimum=1, maximum=65535),
        Field("cpu", "number", "CPU", "vCPU per copy.", default=0.5, enum=(0.25, 0.5, 1, 2, 4), unit="vCPU"),
        Field(
            "memory_mb", "integer", "Memory", "Memory per copy.", default=1024, minimum=512, maximum=16384, unit="MiB"
        ),
        Field("min_replicas", "integer", "Minimum copies", default=1, minimum=1, maximum=50),
        Field("max_replicas", "integer", "Maximum copies", default=2, minimum=1, maximum=50),
        Field(
            "network_id", "string", "Network", "The network the service runs in (none: the default one).", replace=True
        ),
    ),
    computed=(Computed("url", "string", "URL"), Computed("internal_hostname", "string", "Internal host name")),
    create_seconds=8,
    update_seconds=5,
    delete_seconds=4,
    metrics=("cpu_percent", "memory_percent", "requests_per_second"),
    summary=("image", "cpu", "memory_mb", "min_replicas", "max_replicas"),
)

COMPARISONS = (">", ">=", "<", "<=")
ALARM_NAME_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"

ALARM = Kind(
    name="alarm",
    title="Alarm",
    description=(
        "Watches one metric of one resource; when the condition holds for the duration it fires, and when it no "
        "longer holds it resolves, each time sending a Prometheus Alertmanager webhook (version 4) to its URL."
    ),
    id_prefix="alm",
    fields=(
        Field(
            "resource_id",
            "string",
            "Resource",
            "The id of the resource watched.",
            required=True,
            pattern=r"^[A-Za-z0-9-]{1,40}$",
        ),
        Field(
            "metric",
            "string",
            "Metric",
            "The metric of that resource watched (storage_used_percent).",
            required=True,
            pattern=r"^[a-z][a-z0-9_]{0,62}$",
        ),
        Field(
            "comparison",
            "string",
            "Comparison",
            "How the value is compared with the threshold.",
            required=True,
            enum=COMPARISONS,
        ),
        Field("threshold", "number", "Threshold", "The value compared with.", required=True),
        Field(
            "duration_seconds",
            "integer",
            "Duration",
            "How long the condition must hold before it fires.",
            default=0,
            minimum=0,
            maximum=86400,
            unit="s",
        ),
        Field(
            "severity",
            "string",
            "Severity",
            "Sent as the alert's severity label.",
            default="warning",
            enum=("info", "warning", "critical"),
        ),
        Field(
            "alarm_name",
            "string",
            "Alert name",
            "Sent as the alert's alertname label (default: the name).",
            pattern=ALARM_NAME_PATTERN,
        ),
        Field("summary", "string", "Summary", "Sent as the alert's summary annotation."),
        Field(
            "webhook_url",
            "string",
            "Webhook URL",
            "Where notifications go (Alertmanager webhook format); user:password@ in it is sent as basic auth.",
            pattern=r"^https?://[^\s]{1,2000}$",
            write_only=True,
            kept=True,
        ),
    ),
    create_seconds=1,
    update_seconds=1,
    delete_seconds=1,
    summary=("resource_id", "metric", "comparison", "threshold"),
)

KINDS: dict[str, Kind] = {k.name: k for k in (NETWORK, DATABASE, BUCKET, QUEUE, SERVICE, ALARM)}

COMPUTE = {
    "network": lambda rid, name: {"dns_domain": f"{_kebab(name)}.{DOMAIN}"},
    "database": lambda rid, name: {
        "endpoint": f"{_kebab(name)}.{rid}.db.{DOMAIN}",
        "port": 5432,
        "username": "app",
    },
    "bucket": lambda rid, name: {"url": f"https://{_kebab(name)}.bucket.{DOMAIN}"},
    "queue": lambda rid, name: {"url": f"https://queue.{DOMAIN}/{rid}/{name}"},
    "service": lambda rid, name: {
        "url": f"https://{_kebab(name)}.apps.{DOMAIN}",
        "internal_hostname": f"{_kebab(name)}.svc.{DOMAIN}",
    },
    "alarm": lambda rid, name: {},
}
