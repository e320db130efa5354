# syntax=docker/dockerfile:1
#
# Slipway: one image for every role.
#   web     (default CMD)  gunicorn portal.wsgi:application on 0.0.0.0:8000
#   worker                 celery -A portal worker --loglevel=INFO
#   beat                   celery -A portal beat --loglevel=INFO --schedule /tmp/celerybeat-schedule
#   one-off                python manage.py migrate | sync_bundles | createsuperuser | ...
#
#   docker build -t slipway .
#   docker build --build-arg TOFU_VERSION=1.9.1 -t slipway .
#
# Runtime configuration comes from the environment (see portal/settings.py, README "Production"
# and docker-compose.yml, which reads .env). With DEBUG off, SECRET_KEY and SLIPWAY_ENCRYPTION_KEY
# are required; the image contains neither (`manage.py init_env` creates them once, outside it).
# gunicorn and the worker refuse to start when the key cannot decrypt the data already stored.
#
# The application runs from its source tree in /app, not from site-packages:
# settings.BASE_DIR is derived from the location of portal/settings.py, and templates/,
# static/ and bundles/catalog/ (read by sync_bundles) are not part of the wheel.
# `pip install .` installs the dependencies declared in pyproject.toml.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm


# ---- OpenTofu: the official release zip, verified against the release's SHA256SUMS ----
FROM ${PYTHON_IMAGE} AS tofu

ARG TOFU_VERSION=1.9.1
# Set by BuildKit from --platform (amd64 or arm64); falls back to the build machine's arch.
ARG TARGETARCH

RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl unzip; \
    rm -rf /var/lib/apt/lists/*

WORKDIR /tmp/tofu
RUN set -eux; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    case "$arch" in \
        amd64|arm64) ;; \
        *) echo "OpenTofu: unsupported architecture '$arch' (amd64 or arm64)" >&2; exit 1 ;; \
    esac; \
    base="https://github.com/opentofu/opentofu/releases/download/v${TOFU_VERSION}"; \
    zip="tofu_${TOFU_VERSION}_linux_${arch}.zip"; \
    sums="tofu_${TOFU_VERSION}_SHA256SUMS"; \
    curl --proto '=https' --tlsv1.2 -fsSL --retry 3 -o "$zip" "$base/$zip"; \
    curl --proto '=https' --tlsv1.2 -fsSL --retry 3 -o "$sums" "$base/$sums"; \
    awk -v f="$zip" '$2 == f' "$sums" > "$zip.sha256"; \
    test "$(wc -l < "$zip.sha256")" -eq 1; \
    sha256sum -c "$zip.sha256"; \
    unzip -j -o "$zip" tofu -d /usr/local/bin; \
    chmod 0755 /usr/local/bin/tofu; \
    /usr/local/bin/tofu version


# ---- Python dependencies, installed into a virtualenv that the runtime stage copies ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .
# Runtime dependencies only (no [dev] extra). The `slipway` distribution itself is removed
# again so that `portal`, `bundles`, ... can only be imported from /app (see the top).
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install . \
 && pip uninstall -y slipway


# ---- Runtime ----
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=portal.settings \
    SLIPWAY_TOFU_BINARY=/usr/local/bin/tofu \
    SLIPWAY_VAR_DIR=/var/lib/slipway \
    SLIPWAY_WORKDIR=/var/lib/slipway/work \
    SLIPWAY_PROVIDER_DIR=/opt/slipway/providers \
    STATIC_ROOT=/app/staticfiles \
    HOME=/var/lib/slipway \
    WEB_CONCURRENCY=2

# git + ca-certificates: modules may use git and https sources. tini: PID 1 that forwards
# signals and reaps the engine's orphaned processes.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates git tini; \
    rm -rf /var/lib/apt/lists/*

# Non-root user, whose HOME is /var/lib/slipway (gunicorn keeps its control socket under
# $HOME/.gunicorn, the engine its own files under $HOME). /var/lib/slipway/work exists in the
# image, owned by that user, so a fresh named volume mounted there inherits the ownership.
RUN set -eux; \
    groupadd --system --gid 10001 slipway; \
    useradd --system --uid 10001 --gid slipway --home-dir /var/lib/slipway --no-create-home \
        --shell /usr/sbin/nologin slipway; \
    install -d -o slipway -g slipway -m 0750 /var/lib/slipway /var/lib/slipway/work

COPY --from=tofu /usr/local/bin/tofu /usr/local/bin/tofu
COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Source, templates, static and bundles/catalog/ (filtered by .dockerignore); owned by root,
# read-only for the app user.
COPY . .

# Static files for WhiteNoise (hashed, compressed manifest storage, as with DEBUG off).
# Settings refuse to load with DEBUG off and no keys, so give them throwaway values that exist
# only for this command: a literal SECRET_KEY and a freshly generated Fernet key, neither kept
# in the image. SLIPWAY_VAR_DIR points at a scratch folder for the SQLite/broker folders that
# settings create when DATABASE_URL/CELERY_BROKER_URL are unset.
RUN set -eu; \
    DEBUG=0 \
    SECRET_KEY=collectstatic-build-only-not-a-secret \
    SLIPWAY_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    SLIPWAY_VAR_DIR=/tmp/slipway-build \
    python manage.py collectstatic --noinput; \
    test -f "$STATIC_ROOT/staticfiles.json"; \
    rm -rf /tmp/slipway-build

# The sandbox cloud's provider, where the engine's CLI config looks for it (SLIPWAY_PROVIDER_DIR):
# owned by root, read-only for the app user; workers find it current at start and leave it alone.
# DEBUG=1 only so settings load without the keys; nothing else runs.
RUN DEBUG=1 SLIPWAY_VAR_DIR=/tmp/slipway-build python manage.py sandbox_provider \
 && DEBUG=1 SLIPWAY_VAR_DIR=/tmp/slipway-build python manage.py sandbox_provider --check \
 && rm -rf /tmp/slipway-build

USER 10001:10001

EXPOSE 8000

# Health: /healthz answers 200 when the database and the broker do (503 names what is down). It is
# never redirected to https, and the probe sends the workers' host (from SLIPWAY_BASE_URL), which
# Slipway always allows, so no ALLOWED_HOSTS setting can break it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.parse as p, urllib.request as u; host = p.urlsplit(os.environ.get('SLIPWAY_BASE_URL', 'http://127.0.0.1:8000')).netloc; r = u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "portal.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", \
     "--timeout", "60", \
     "--access-logfile", "-"]
