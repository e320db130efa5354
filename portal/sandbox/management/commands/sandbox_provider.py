from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.sandbox.install import SOURCE, VERSION, install, launcher_path


class Command(BaseCommand):
    help = (
        "Install (or check) the sandbox cloud's provider in the engine's provider folder "
        "(SLIPWAY_PROVIDER_DIR). Idempotent; every worker also does it when it starts."
    )
    # It writes one file: it must work where nothing else is set up yet (an image being built).
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="The provider folder (default: SLIPWAY_PROVIDER_DIR).")
        parser.add_argument("--check", action="store_true", help="Only say whether it is installed and current.")

    def handle(self, *args, dir=None, check=False, **options):
        directory = Path(dir or settings.SLIPWAY_PROVIDER_DIR)
        if check:
            from portal.sandbox.install import launcher_text

            path = launcher_path(directory)
            current = path.is_file() and path.read_text() == launcher_text()
            self.stdout.write(f"{SOURCE} {VERSION}: {'installed' if current else 'missing or outdated'} at {path}")
            if not current:
                raise SystemExit(1)
            return
        path, changed = install(directory)
        self.stdout.write(f"{SOURCE} {VERSION} {'installed' if changed else 'already current'} at {path}")
