"""What the sandbox provider costs a run: the engine's steps on a sandbox database versus terraform_data.

    .venv/bin/python bench/sandbox_provider.py [--runs 5]

Needs nothing running: it serves the sandbox from the embedded configuration (SQLite in a temporary
SLIPWAY_VAR_DIR, delays scaled to 0, so only the provider's own cost is measured), installs the provider
as a worker does, and runs each step with Slipway's engine environment (engine_env: CLI config with the
provider mirror, the shared plugin cache, SANDBOX_*), each repetition in a fresh directory as a run is.
Prints the median seconds of init, plan (-out), apply (of the plan) and destroy for both modules, and
the provider's start-up time (process start to plugin handshake).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
os.environ.update(
    SLIPWAY_VAR_DIR=str(VAR),
    SLIPWAY_SANDBOX_DELAY_SCALE="0",
    DJANGO_SETTINGS_MODULE="portal.settings",
    LOG_LEVEL="WARNING",
)
os.environ.pop("DATABASE_URL", None)
os.environ.pop("CELERY_BROKER_URL", None)
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()
from django.conf import settings  # noqa: E402

from deployments.runs.engine import engine_binary, engine_env  # noqa: E402
from portal.sandbox.install import install  # noqa: E402

MODULES = {
    "terraform_data": 'resource "terraform_data" "db" {\n  input = { size = "small", storage_gb = 20 }\n}\n',
    "sandbox_database": (
        'terraform {\n  required_providers {\n    sandbox = { source = "slipway.local/slipway/sandbox" }\n  }\n}\n'
        'variable "name" {}\n'
        'resource "sandbox_database" "db" {\n  name = var.name\n  size = "small"\n  storage_gb = 20\n}\n'
    ),
}
STEPS = ("init", "plan", "apply", "destroy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def once(module: str, index: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(dir=VAR))
    (work / "main.tf").write_text(MODULES[module])
    env = engine_env(work)
    name = ["-var", f"name=bench-{index}"] if module == "sandbox_database" else []
    commands = {
        "init": ["init", "-input=false"],
        "plan": ["plan", "-input=false", "-out=plan.bin", *name],
        "apply": ["apply", "-input=false", "-auto-approve", "plan.bin"],
        "destroy": ["destroy", "-input=false", "-auto-approve", *name],
    }
    timings = {}
    for step in STEPS:
        started = time.perf_counter()
        subprocess.run([engine_binary(), *commands[step]], cwd=work, env=env, check=True, capture_output=True)
        timings[step] = time.perf_counter() - started
    return timings


def handshake(launcher: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen([launcher], stdout=subprocess.PIPE, env={**os.environ, "PLUGIN_PROTOCOL_VERSIONS": "6"})
    proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.kill()
    proc.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()

    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, check=True, capture_output=True)
    port = free_port()
    settings.SLIPWAY_BASE_URL = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        launcher, _ = install(settings.SLIPWAY_PROVIDER_DIR)
        results: dict[str, dict[str, list[float]]] = {m: {s: [] for s in STEPS} for m in MODULES}
        for module in MODULES:
            once(module, -1)  # warm the plugin cache, the certificate cache and the server
            for index in range(opts.runs):
                for step, seconds in once(module, index).items():
                    results[module][step].append(seconds)
        starts = [handshake(launcher) for _ in range(opts.runs)]
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(VAR, ignore_errors=True)

    version = subprocess.run([engine_binary(), "version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"\nengine: {version}; {opts.runs} runs each, median seconds, sandbox delays scaled to 0\n")
    print(f"| {'step':<10} | {'terraform_data':>14} | {'sandbox_database':>16} | {'difference':>10} |")
    print(f"|{'-' * 12}|{'-' * 16}|{'-' * 18}|{'-' * 12}|")
    totals = {m: 0.0 for m in MODULES}
    for step in STEPS:
        base, sandbox = (statistics.median(results[m][step]) for m in MODULES)
        totals["terraform_data"] += base
        totals["sandbox_database"] += sandbox
        print(f"| {step:<10} | {base:>14.2f} | {sandbox:>16.2f} | {sandbox - base:>+10.2f} |")
    base, sandbox = totals.values()
    print(f"| {'total':<10} | {base:>14.2f} | {sandbox:>16.2f} | {sandbox - base:>+10.2f} |")
    print(f"\nprovider start-up (exec to plugin handshake): median {statistics.median(starts):.2f} s")


if __name__ == "__main__":
    main()
