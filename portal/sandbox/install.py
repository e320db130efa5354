"""Installs the sandbox provider into a provider folder the engine reads as a filesystem mirror.

The unpacked mirror layout both OpenTofu and Terraform read::

    DIR/slipway.local/slipway/sandbox/1.0.0/linux_amd64/terraform-provider-sandbox_v1.0.0

The file is a small launcher that runs ``sandbox.provider`` with this Python (the venv's, so the
``tf`` package is there). It imports the provider as the top-level package ``sandbox`` from
``portal/``, not as ``portal.sandbox``, so the provider process never loads Django, Celery or
anything of Slipway's: it starts in about half the time. Free of Django, so tests and scripts can
call it too.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

HOST, NAMESPACE, TYPE = "slipway.local", "slipway", "sandbox"
SOURCE = f"{HOST}/{NAMESPACE}/{TYPE}"
# Bump when the provider's schema changes in a way old states need upgrading for.
VERSION = "1.0.0"
PACKAGE_PARENT = Path(__file__).resolve().parent.parent  # portal/, holding the package folder sandbox/


def target_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def launcher_path(directory: Path | str) -> Path:
    return (
        Path(directory)
        / HOST
        / NAMESPACE
        / TYPE
        / VERSION
        / target_platform()
        / f"terraform-provider-{TYPE}_v{VERSION}"
    )


def launcher_text(python: str | None = None) -> str:
    python = python or sys.executable
    # -I: ignore PYTHON* variables and never import from the working directory, which is the
    # bundle's module: a file there named like a library must not be run by the provider.
    code = "import sys; sys.path.append(sys.argv.pop(1)); from sandbox.provider import main; main()"
    return (
        "#!/bin/sh\n"
        f"# The Slipway sandbox cloud's provider ({SOURCE} {VERSION}), installed by\n"
        "# `manage.py sandbox_provider`. Runs the provider in portal/sandbox/provider.py with Slipway's Python.\n"
        f'exec {shlex.quote(python)} -I -c {shlex.quote(code)} {shlex.quote(str(PACKAGE_PARENT))} "$@"\n'
    )


def install(directory: Path | str, *, python: str | None = None) -> tuple[Path, bool]:
    """Write the launcher if it is missing or different; returns (its path, whether it was written).

    Safe with several processes at once: the file is written beside its target and renamed over it.
    """
    path = launcher_path(directory)
    text = launcher_text(python)
    try:
        if path.read_text() == text and os.access(path, os.X_OK):
            return path, False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".launcher-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path, True
