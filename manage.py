#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["init_env"]:
        # Creates the keys the settings need, so it runs before (and without) them, even on a host with
        # only python3: the module is loaded by path (importing the `portal` package would need Celery).
        import importlib.util
        from pathlib import Path

        spec = importlib.util.spec_from_file_location("envfile", Path(__file__).parent / "portal" / "envfile.py")
        envfile = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(envfile)
        sys.exit(envfile.main(sys.argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
