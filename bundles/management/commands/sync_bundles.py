from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bundles.loader import BundleError, read_bundle
from bundles.services import bundle_version_publish


class Command(BaseCommand):
    help = "Load bundle directories (default: every bundle in bundles/catalog/) as published versions. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="Bundle directories, or folders of bundle directories.")

    def handle(self, *args, paths, **options):
        targets: list[Path] = []
        for raw in paths or [str(settings.SLIPWAY_CATALOG_DIR)]:
            path = Path(raw)
            if (path / "bundle.yaml").is_file():
                targets.append(path)
            elif path.is_dir():
                targets += sorted(p.parent for p in path.glob("*/bundle.yaml"))
            else:
                raise CommandError(f"{path}: not a bundle directory (no bundle.yaml) nor a folder of bundles")
        failures = 0
        for target in targets:
            try:
                result = bundle_version_publish(manifest=read_bundle(target))
            except BundleError as exc:
                failures += 1
                self.stderr.write(self.style.ERROR(f"{exc.path}:"))
                for problem in exc.problems:
                    self.stderr.write(f"  - {problem}")
                continue
            state = "published" if result.created else "unchanged"
            self.stdout.write(f"{result.version} {state}")
        if failures:
            raise CommandError(f"{failures} bundle(s) could not be loaded")
