"""``manage.py serve``: the web server, a Celery worker and Celery beat together, as ``make run`` starts them.

Each child runs in a session of its own, so Ctrl-C (or a SIGTERM) reaches this process only, once, and it
stops the children in order: SIGTERM to each (the worker's warm shutdown lets a task finish; an engine it
started is interrupted by its own supervisor and saves state), then, after ``--grace`` seconds, SIGKILL to
whatever is left of each child's process group. It exits 0 when it was asked to stop, or 1 when a child died
by itself (the others are stopped then too).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


def children(*, address: str, concurrency: int) -> dict[str, list[str]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "portal"]
    return {
        "web": [python, "manage.py", "runserver", address, "--noreload"],
        "worker": [*celery, "worker", "--loglevel=INFO", f"--concurrency={concurrency}"],
        "beat": [*celery, "beat", "--loglevel=INFO"],
    }


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat; Ctrl-C stops all three."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument("--grace", type=float, default=20.0, help="seconds a child has to stop before SIGKILL")

    def handle(self, *args, address: str, concurrency: int, grace: float, **options):
        stopping = []

        def stop(signum, frame):
            stopping.append(signum)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        procs = {
            name: subprocess.Popen(argv, start_new_session=True)
            for name, argv in children(address=address, concurrency=concurrency).items()
        }
        died = None
        while not stopping and died is None:
            died = next((name for name, p in procs.items() if p.poll() is not None), None)
            time.sleep(0.2)
        if died:
            self.stderr.write(f"{died} exited ({procs[died].returncode}); stopping the others.")
        else:
            self.stdout.write("Stopping web, worker and beat…")
        self._stop(procs, grace)
        if died:
            raise SystemExit(1)
        self.stdout.write("Stopped.")

    def _stop(self, procs: dict[str, subprocess.Popen], grace: float) -> None:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, p in procs.items():
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop within {grace:g} s: killed.")
            # The child's whole group: a worker's pool processes, whatever the web server started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
