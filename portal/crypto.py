"""Encryption at rest (Fernet) for state, plans, outputs and sensitive values.

``SLIPWAY_ENCRYPTION_KEY`` holds one or more Fernet keys, comma-separated: the first encrypts, all
decrypt. Rotation is therefore: put the new key first (``new,old``), restart, run
``manage.py rotate_encryption_key`` (re-encrypts every stored value with the first key), then drop
the old key.

Every encrypted column is declared by its app, as ``encrypted_fields`` on the AppConfig
(``"Model.field"``), so the start-up check and the rotation find them all without this module
knowing the apps above it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

KEY_MISMATCH = (
    "The encryption key (SLIPWAY_ENCRYPTION_KEY) cannot decrypt data this database already holds, so "
    "the key has changed since it was stored. Put back the key from your .env backup; to move to a new "
    "key, set SLIPWAY_ENCRYPTION_KEY=new,old, run `manage.py rotate_encryption_key`, then drop the old one."
)


class KeyMismatch(Exception):
    """Stored data cannot be decrypted with the configured keys. ``str()`` is one sentence for people."""

    def __init__(self, message: str = KEY_MISMATCH):
        super().__init__(message)


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def encrypt(data: bytes) -> bytes:
    return _fernet(settings.SLIPWAY_ENCRYPTION_KEY).encrypt(data)


def decrypt(token: bytes) -> bytes:
    try:
        return _fernet(settings.SLIPWAY_ENCRYPTION_KEY).decrypt(bytes(token))
    except InvalidToken:
        raise KeyMismatch() from None


def reencrypt(token: bytes) -> bytes:
    """The same plaintext, encrypted with the first key (raises :class:`KeyMismatch` if no key reads it)."""
    try:
        return _fernet(settings.SLIPWAY_ENCRYPTION_KEY).rotate(bytes(token))
    except InvalidToken:
        raise KeyMismatch() from None


def encrypted_fields() -> Iterator[tuple[type, str]]:
    """(model, field name) of every encrypted column, as the apps declare them."""
    from django.apps import apps

    for config in apps.get_app_configs():
        for label in getattr(config, "encrypted_fields", ()):
            model_name, field = label.split(".")
            yield config.get_model(model_name), field


def key_problems(samples: int = 2) -> list[str]:
    """Stored values the configured keys cannot decrypt, sampled (the newest and oldest of each column).

    Empty when everything sampled decrypts, when nothing is stored yet, or when the tables do not
    exist yet (before the first migrate). Used at start-up: ``manage.py check`` and the worker.
    """
    from django.db import DatabaseError

    problems = []
    for model, field in encrypted_fields():
        stored = model._default_manager.exclude(**{f"{field}__isnull": True})
        try:
            rows = list(stored.order_by("-pk").values_list("pk", field)[:samples])
            rows += list(stored.order_by("pk").values_list("pk", field)[:1])
        except DatabaseError:
            continue
        for pk, value in rows:
            if not value:
                continue
            try:
                decrypt(value)
            except KeyMismatch:
                problems.append(f"{model._meta.label}.{field} #{pk}")
                break
    return problems
