"""Shared set-up for the benchmarks: a dedicated PostgreSQL database, created if needed, and Django."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(default_url: str) -> str:
    """Point Django at ``BENCH_DATABASE_URL`` (else ``default_url``), create that database, and set Django up."""
    import psycopg

    url = os.environ.get("BENCH_DATABASE_URL", default_url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    return url


def filler(table: str, given: set[str]) -> dict[str, str]:
    """SQL values for the NOT NULL columns of ``table`` that ``given`` does not set (Django sets no
    database defaults), so a generator keeps working when other apps add columns."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'",
            [table],
        )
        columns = cursor.fetchall()
    by_type = {"jsonb": "'{}'::jsonb", "boolean": "false", "integer": "0", "bigint": "0", "smallint": "0"}
    out = {}
    for name, kind in columns:
        if name in given:
            continue
        if kind.startswith("timestamp"):
            out[name] = "now()"
        elif kind == "bytea":
            out[name] = "''::bytea"
        elif kind == "numeric":
            out[name] = "0"
        else:
            out[name] = by_type.get(kind, "''")
    return out
