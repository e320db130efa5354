"""Encryption at rest (Fernet) for state, plans and sensitive values."""

from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    # Comma-separated keys allow rotation: the first encrypts, all decrypt.
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def encrypt(data: bytes) -> bytes:
    return _fernet(settings.SLIPWAY_ENCRYPTION_KEY).encrypt(data)


def decrypt(token: bytes) -> bytes:
    return _fernet(settings.SLIPWAY_ENCRYPTION_KEY).decrypt(bytes(token))
