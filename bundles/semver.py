"""Semantic version parsing (semver.org 2.0.0)."""

import re
from typing import NamedTuple

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class Version(NamedTuple):
    major: int
    minor: int
    patch: int
    prerelease: str
    build: str


def parse(value: str) -> Version:
    match = _SEMVER.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a semantic version (expected MAJOR.MINOR.PATCH, e.g. 1.4.0).")
    major, minor, patch, pre, build = match.groups()
    return Version(int(major), int(minor), int(patch), pre or "", build or "")
