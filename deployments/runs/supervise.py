"""The engine's supervisor: a small process between a worker and the engine it starts.

Run as ``python -I -S supervise.py GRACE USER -- ENGINE ARGS...`` (``USER`` empty: the engine runs as
the supervisor's own user; else the supervisor, started as root, runs the engine as that user). Standard
library only: it must not import Django, and it never sees the worker's settings. The worker starts it
in a session of its own, with Linux's parent-death signal set to SIGTERM, and the supervisor starts the engine in a
process group of its own (the engine, its provider plugins and ``local-exec`` children).

- The engine's output goes to files the supervisor inherited (never a pipe to the worker), so a
  dead worker does not kill the engine with SIGPIPE at its next line of output.
- SIGINT (a cancel): the engine's group gets SIGINT, so it stops, saves state and unlocks.
- SIGTERM (the worker died: the kernel sends it; or the worker asks for a stop): the same, and if the
  engine has not exited ``GRACE`` seconds later, its group is killed.
- SIGUSR1: the engine's group is killed at once (the worker's cancel grace ran out).
- When the engine exits, whatever it left in its group (a ``local-exec`` child, a plugin) is killed,
  and the supervisor exits with the engine's status. When the worker died, it also removes the files
  that hold plaintext inputs (``terraform.tfvars.json``, ``plan.bin``; a drift check's decrypted state and
  plan, ``terraform.tfstate`` and ``drift.bin``) from the work directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import sys
import time

SECRET_FILES = ("terraform.tfvars.json", "plan.bin", "terraform.tfstate", "drift.bin")  # not errored.tfstate


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def main(argv: list[str]) -> int:
    grace = float(argv[1])
    user = argv[2] if argv[2] != "--" else ""
    engine_args = argv[argv.index("--") + 1 :]
    as_user = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []} if user else {}
    parent = os.getppid()
    state = {"deadline": None, "interrupted": False}

    # Signals first, so one arriving while the engine starts is not lost.
    pending: list[int] = []
    signal.signal(signal.SIGINT, lambda sig, _frame: pending.append(sig))
    signal.signal(signal.SIGTERM, lambda sig, _frame: pending.append(sig))
    signal.signal(signal.SIGUSR1, lambda sig, _frame: pending.append(sig))
    engine = subprocess.Popen(engine_args, stdin=subprocess.DEVNULL, start_new_session=True, **as_user)

    def interrupt() -> None:
        if not state["interrupted"]:
            state["interrupted"] = True
            _signal_group(engine.pid, signal.SIGINT)

    while True:
        while pending:
            sig = pending.pop(0)
            if sig == signal.SIGUSR1:
                _signal_group(engine.pid, signal.SIGKILL)
            else:
                interrupt()
                if sig == signal.SIGTERM and state["deadline"] is None:
                    state["deadline"] = time.monotonic() + grace
        if os.getppid() != parent and state["deadline"] is None:
            # The worker is gone and the parent-death signal did not reach us: act as if it had.
            pending.append(signal.SIGTERM)
            continue
        try:
            code = engine.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        if state["deadline"] is not None and time.monotonic() > state["deadline"]:
            _signal_group(engine.pid, signal.SIGKILL)
    _signal_group(engine.pid, signal.SIGKILL)  # leftovers: provisioner children, plugins
    if state["deadline"] is not None:
        # The worker is gone and will not remove the work directory: take the plaintext inputs and the saved
        # plan (it holds them too) off the disk now; the next worker to start removes the rest.
        for name in SECRET_FILES:
            with contextlib.suppress(OSError):
                os.unlink(name)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
