"""Slipway settings: one flat module, driven by environment variables.

Defaults are safe for development and need nothing running: SQLite and a filesystem
Celery broker under ``var/``. Set ``DATABASE_URL`` and ``CELERY_BROKER_URL`` to use
PostgreSQL and Redis. With ``DEBUG`` off, a missing ``SECRET_KEY`` or
``SLIPWAY_ENCRYPTION_KEY`` fails loudly.
"""

import base64
import hashlib
import hmac
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=True)
VAR_DIR = Path(env_str("SLIPWAY_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. Create it once with `python3 manage.py init_env` "
            "(it writes .env with SECRET_KEY and SLIPWAY_ENCRYPTION_KEY) and keep a backup of that file."
        )
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"

# How runners reach the state backend (workers call /state/ there).
SLIPWAY_BASE_URL = env_str("SLIPWAY_BASE_URL", "http://127.0.0.1:8000")
# Where people open links from notifications. Unset, it falls back to the runners' address, which
# people often cannot open (http://web:8000 under compose): `manage.py doctor` says so.
SLIPWAY_PUBLIC_URL = env_str("SLIPWAY_PUBLIC_URL") or SLIPWAY_BASE_URL
# Where a deployment's cloud reaches its alarm webhook (docs/alarms.md); empty: SLIPWAY_BASE_URL.
SLIPWAY_ALARMS_BASE_URL = env_str("SLIPWAY_ALARMS_BASE_URL", "")
# Alarm notifications accepted a minute, per deployment and per client address (429 above).
SLIPWAY_ALARM_WEBHOOK_RATE = env_int("SLIPWAY_ALARM_WEBHOOK_RATE", 120)


def _origin(url: str) -> tuple[str, str]:
    """(host name, scheme://host[:port]) of a configured URL."""
    parts = urlsplit(url)
    return (parts.hostname or ""), f"{parts.scheme}://{parts.netloc}"


ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if not DEBUG else "*")
# The workers' host must always be allowed (else every run fails at `init` against the state backend),
# and so must the public URL's: an operator who lists only their own domain cannot drop either.
for _url in (SLIPWAY_BASE_URL, SLIPWAY_PUBLIC_URL):
    _host = _origin(_url)[0]
    if _host and "*" not in ALLOWED_HOSTS and _host not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_host)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# People post forms from the public URL: trust its origin (needed when a proxy rewrites Host or port).
_public_origin = _origin(SLIPWAY_PUBLIC_URL)[1]
if SLIPWAY_PUBLIC_URL.startswith(("http://", "https://")) and _public_origin not in CSRF_TRUSTED_ORIGINS:
    CSRF_TRUSTED_ORIGINS.append(_public_origin)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "simple_history",
    "axes",
    "portal",
    "bundles",
    "deployments",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "audit.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # With DEBUG on, Slipway's 404 page rather than Django's technical one.
    "portal.middleware.NotFoundPageMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # NUL characters and lone surrogates in the path, the query or a form field: a 400 naming the field.
    "portal.inputs.InputsMiddleware",
    "audit.middleware.ReviewerReadOnlyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # One sentence instead of a traceback when the encryption key cannot read stored data.
    "portal.middleware.KeyMismatchMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout answer.
    "axes.middleware.AxesMiddleware",
]
# History is append-only: the admin shows past versions but never reverts to one (restoring a
# configuration is a new change through the services, see audit.services.deployment_restore).
SIMPLE_HISTORY_REVERT_DISABLED = True
# The change reason (channel, actor, basis, request id and the developer's own words) is text: never cut short.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]
# Django's form renderer with selects written in Python (the same markup; one include per option was most of a
# filter form's time): portal/rendering.py.
FORM_RENDERER = "portal.rendering.FormRenderer"

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "slipway.sqlite3",
            # Web, worker and beat share one file: WAL and IMMEDIATE transactions keep
            # concurrent writers from failing with "database is locked".
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N, static ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Cache -----------------------------------------------------------------------------
# Nothing in Slipway needs a shared cache: the sign-in throttle keeps its counts in the database,
# so a Redis outage (Redis is the broker) never breaks signing in. Per process, in memory.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Sign-in throttle (django-axes) ------------------------------------------------------
# One throttle for every door: the site's sign-in, /admin/login/ and anything else that calls
# authenticate(), and API tokens (portal.authentication). The policy is Slipway's own
# (portal.throttle.SlipwayAxesHandler): an account is locked after SLIPWAY_LOGIN_ATTEMPTS failures
# from anywhere; an address only after failures against SLIPWAY_LOGIN_ADDRESS_ACCOUNTS different
# real accounts, so made-up usernames from a shared address (a proxy, an office NAT) lock nobody out.
SLIPWAY_LOGIN_ATTEMPTS = env_int("SLIPWAY_LOGIN_ATTEMPTS", 5)
SLIPWAY_LOGIN_ADDRESS_ACCOUNTS = env_int("SLIPWAY_LOGIN_ADDRESS_ACCOUNTS", 10)
SLIPWAY_LOGIN_LOCKOUT_SECONDS = env_int("SLIPWAY_LOGIN_LOCKOUT_SECONDS", 900)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked account or address before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "portal.throttle.SlipwayAxesHandler"
AXES_FAILURE_LIMIT = SLIPWAY_LOGIN_ATTEMPTS
AXES_COOLOFF_TIME = SLIPWAY_LOGIN_LOCKOUT_SECONDS / 3600  # hours
# Axes keys its own bookkeeping (the reset after a successful sign-in) by username only, so signing in
# to one's own account never wipes an address's record; the handler checks the address itself, which
# axes' check W006 cannot see.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_USERNAME_CALLABLE = "portal.throttle.account_key"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.throttle.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept; failures are, while they count
# The client's address: REMOTE_ADDR; with SLIPWAY_PROXY_COUNT trusted proxies in front, the address the
# outermost of them saw, from X-Forwarded-For (believed only then, and only that far).
SLIPWAY_PROXY_COUNT = env_int("SLIPWAY_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "portal.throttle.client_address"

# --- TLS, cookies, headers -------------------------------------------------------------
# SLIPWAY_TLS says where TLS ends, and the rest follows from it:
#   off    plain HTTP (development, or a private network): no redirect, no secure-only cookies, no HSTS
#   proxy  a reverse proxy terminates TLS and sets X-Forwarded-Proto (the header is trusted in this mode only)
#   on     this server itself is reached over https
# Each Django setting can still be set by its own variable. /state/ and /healthz are never redirected:
# workers and health probes use SLIPWAY_BASE_URL as it is, often plain http inside the network.
SLIPWAY_TLS = env_str("SLIPWAY_TLS", "off" if DEBUG else "on").strip().lower()
if SLIPWAY_TLS not in {"off", "proxy", "on"}:
    raise ImproperlyConfigured(f"SLIPWAY_TLS must be off, proxy or on (not {SLIPWAY_TLS!r}).")
_tls = SLIPWAY_TLS != "off"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _tls)
SECURE_REDIRECT_EXEMPT = [r"^state/", r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _tls)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _tls)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _tls and not DEBUG else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if SLIPWAY_TLS == "proxy":
    # Only a proxy the operator named may say a request came over https: any client can send the header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles only from our own static files (htmx,
# static/js, the admin's, Swagger UI's from drf-spectacular-sidecar), so an injected inline script
# never runs. Swagger UI is served by drf-spectacular's "split" view, whose setup script is a file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- REST API -------------------------------------------------------------------------
# The largest JSON body the API reads (a bundle's params, a bulk change); larger is answered 413.
SLIPWAY_API_MAX_BODY_BYTES = env_int("SLIPWAY_API_MAX_BODY_BYTES", 2_621_440)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.APITokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "audit.permissions.ReviewersReadOnly",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.Pagination",
    # The API reads JSON only, with limits: size (413), depth, numbers, text (400 with a message); see
    # portal.inputs. Form bodies are answered 415 (their empty strings cannot say false or null).
    "DEFAULT_PARSER_CLASSES": ["portal.inputs.LimitedJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "portal.filtering.StrictFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "portal.api.SlipwayAutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Slipway API",
    "DESCRIPTION": "Self-service infrastructure: bundles, deployments, runs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "deployments.choices.RunStatus",
        "DeploymentStatusEnum": "deployments.choices.DeploymentStatus",
        "ExceptionStatusEnum": "deployments.models.ExceptionRequest.Status",
        "RunActionEnum": "deployments.choices.RunAction",
        "TierEnum": "deployments.choices.Tier",
        "LogStreamEnum": "deployments.choices.LogStream",
        "ChannelEnum": "audit.models.Channel",
        "ChangeKindEnum": ["added", "removed", "changed"],
        "DiffKindEnum": ["added", "removed", "changed", "transient"],
    },
    # Named enums first, then OpenAPI links between operations (what a client or a fuzzer follows
    # from a created deployment to its runs).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "portal.api.add_links"],
}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if not CELERY_BROKER_URL:
    # kombu's filesystem transport: producers write to data_folder_out and consumers read
    # data_folder_in, so both must be the same folder for web and worker to meet.
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    import portal.broker  # registers the slipwayfs:// transport: kombu's filesystem one, written atomically

    CELERY_BROKER_URL = portal.broker.EMBEDDED_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7200)}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when the broker is down: the run row is already
# committed and the periodic requeue picks it up.
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 3)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = False

# --- Slipway --------------------------------------------------------------------------
SLIPWAY_TOFU_BINARY = env_str("SLIPWAY_TOFU_BINARY") or shutil.which("tofu") or shutil.which("terraform") or ""
SLIPWAY_WORKDIR = Path(env_str("SLIPWAY_WORKDIR", str(VAR_DIR / "work")))

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "slipway@localhost")
SLIPWAY_CATALOG_DIR = BASE_DIR / "bundles" / "catalog"
SLIPWAY_RESOURCE_TYPES_DIR = BASE_DIR / "bundles" / "resource-types"
SLIPWAY_RUN_TIMEOUT = {
    "plan": env_int("SLIPWAY_PLAN_TIMEOUT", 900),
    "apply": env_int("SLIPWAY_APPLY_TIMEOUT", 3600),
    "destroy": env_int("SLIPWAY_DESTROY_TIMEOUT", 3600),
}
SLIPWAY_HEARTBEAT_SECONDS = env_int("SLIPWAY_HEARTBEAT_SECONDS", 10)
SLIPWAY_REQUEUE_AFTER_SECONDS = env_int("SLIPWAY_REQUEUE_AFTER_SECONDS", 60)
# How long before a time-limited exception expires its owner is told (beat looks hourly).
SLIPWAY_EXCEPTION_WARN_DAYS = env_int("SLIPWAY_EXCEPTION_WARN_DAYS", 3)
# Preview environments (docs/environments.md): the time to live an ensure gives when it names none, the longest
# it may ask for, how long before the end the owner is told, and how often beat looks for previews to warn or end.
SLIPWAY_PREVIEW_TTL_HOURS = env_int("SLIPWAY_PREVIEW_TTL_HOURS", 72)
SLIPWAY_PREVIEW_MAX_TTL_HOURS = env_int("SLIPWAY_PREVIEW_MAX_TTL_HOURS", 24 * 30)
SLIPWAY_PREVIEW_WARN_HOURS = env_int("SLIPWAY_PREVIEW_WARN_HOURS", 24)
SLIPWAY_PREVIEW_TICK = env_int("SLIPWAY_PREVIEW_TICK", 300)

SLIPWAY_ENCRYPTION_KEY = env_str("SLIPWAY_ENCRYPTION_KEY")
if not SLIPWAY_ENCRYPTION_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SLIPWAY_ENCRYPTION_KEY must be set when DEBUG is off. Create both keys once with "
            "`python3 manage.py init_env` (it writes .env) and keep a backup of that file."
        )
    # Development only: a stable key derived from the development SECRET_KEY.
    SLIPWAY_ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()

# A run whose worker sent no heartbeat for this long is interrupted (the reaper runs every
# SLIPWAY_REAPER_INTERVAL seconds, so detection takes at most the sum of the two).
SLIPWAY_RUN_STALE_SECONDS = env_int("SLIPWAY_RUN_STALE_SECONDS", 30)
SLIPWAY_REAPER_INTERVAL = env_int("SLIPWAY_REAPER_INTERVAL", 15)
# A bulk change whose driver has not stepped for this long gets a new one (its worker restarted).
SLIPWAY_BULK_STALE_SECONDS = env_int("SLIPWAY_BULK_STALE_SECONDS", 30)
# Drift detection (docs/drift.md): how often each tier's live deployments are checked (seconds; 0 turns
# a tier off), how often beat looks for checks due, and how many checks may be sent or running at once.
SLIPWAY_DRIFT_INTERVALS = {
    "prototype": env_int("SLIPWAY_DRIFT_INTERVAL_PROTOTYPE", 6 * 3600),
    "staging": env_int("SLIPWAY_DRIFT_INTERVAL_STAGING", 3600),
    "production": env_int("SLIPWAY_DRIFT_INTERVAL_PRODUCTION", 900),
}
SLIPWAY_DRIFT_TICK = env_int("SLIPWAY_DRIFT_TICK", 60)
SLIPWAY_DRIFT_MAX_IN_FLIGHT = max(1, env_int("SLIPWAY_DRIFT_MAX_IN_FLIGHT", 1))
CELERY_BEAT_SCHEDULE = {
    "schedule-drift-checks": {
        "task": "deployments.drift.schedule_checks",
        "schedule": SLIPWAY_DRIFT_TICK,
    },
    "requeue-lost-runs": {
        "task": "deployments.tasks.requeue_lost_runs",
        "schedule": SLIPWAY_REAPER_INTERVAL,
    },
    "kick-bulk-changes": {
        "task": "deployments.bulk.kick_bulk_changes",
        "schedule": SLIPWAY_REAPER_INTERVAL,
    },
    "warn-expiring-exceptions": {
        "task": "deployments.policy.warn_expiring_exceptions",
        "schedule": 3600,
    },
    "expire-previews": {
        "task": "deployments.environments.expire_previews",
        "schedule": SLIPWAY_PREVIEW_TICK,
    },
    "kick-environment-runs": {
        "task": "deployments.environments.kick",
        "schedule": SLIPWAY_REAPER_INTERVAL,
    },
    "reap-interrupted-runs": {
        "task": "deployments.tasks.reap_interrupted_runs",
        "schedule": SLIPWAY_REAPER_INTERVAL,
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
SLIPWAY_CANCEL_GRACE_SECONDS = env_int("SLIPWAY_CANCEL_GRACE_SECONDS", 20)
# When a worker dies mid-command, its engine is interrupted (it saves state and unlocks) and killed
# if it is still running this long after (docs/architecture.md, "When a worker dies").
SLIPWAY_ORPHAN_GRACE_SECONDS = env_int("SLIPWAY_ORPHAN_GRACE_SECONDS", 300)
# When the worker runs as root: the unprivileged user the engine (and whatever a module runs) runs as,
# so it cannot read the worker's environment or files (README, "Runs are isolated from the worker").
SLIPWAY_ENGINE_USER = env_str("SLIPWAY_ENGINE_USER")
# The engine writes its state to Slipway periodically during a long apply (every 20 s by its own
# default); a value here is passed as TF_STATE_PERSIST_INTERVAL (Terraform ignores values under 20).
SLIPWAY_STATE_PERSIST_SECONDS = env_int("SLIPWAY_STATE_PERSIST_SECONDS", 0)
# The largest state the engine may write to /state/ (its own limit, not DATA_UPLOAD_MAX_MEMORY_SIZE).
SLIPWAY_STATE_MAX_BYTES = env_int("SLIPWAY_STATE_MAX_BYTES", 64 * 1024 * 1024)

# Providers the engine installs from this folder (a filesystem mirror) instead of a registry:
# Slipway's set-up puts the sandbox cloud's provider here (see portal/sandbox/install.py).
SLIPWAY_PROVIDER_DIR = Path(env_str("SLIPWAY_PROVIDER_DIR", str(VAR_DIR / "providers")))

# --- The sandbox cloud: a stand-in for a cloud provider's API (portal/sandbox, docs/sandbox.md) ---
# Served by the web process under /sandbox/; nothing else in Slipway depends on it.
SLIPWAY_SANDBOX_ENABLED = env_bool("SLIPWAY_SANDBOX_ENABLED", True)
# The API's credential, handed to the provider as SANDBOX_TOKEN. Derived from SECRET_KEY unless set,
# so the web process and every worker agree without another secret to distribute.
SLIPWAY_SANDBOX_TOKEN = (
    env_str("SLIPWAY_SANDBOX_TOKEN")
    or hmac.new(SECRET_KEY.encode(), b"slipway-sandbox-token", hashlib.sha256).hexdigest()
)
# Where the provider reaches the API; empty means SLIPWAY_BASE_URL + /sandbox/api/v1/.
SLIPWAY_SANDBOX_ENDPOINT = env_str("SLIPWAY_SANDBOX_ENDPOINT")
# Multiplies the simulated create/update/delete times (a database takes 20 s to create at 1.0); 0 for tests.
SLIPWAY_SANDBOX_DELAY_SCALE = env_float("SLIPWAY_SANDBOX_DELAY_SCALE", 1.0)
if SLIPWAY_SANDBOX_ENABLED:
    INSTALLED_APPS.append("portal.sandbox")
    # The provider calls the API at SLIPWAY_BASE_URL as it is, like the workers' /state/ calls.
    SECURE_REDIRECT_EXEMPT.append(r"^sandbox/api/")
