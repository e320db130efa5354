from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bundles.loader import BundleError, find_bundles, read_bundle
from bundles.services import bundle_version_publish


class Command(BaseCommand):
    help = (
        "Load bundle directories (default: every bundle in bundles/catalog/, each version in its own folder) "
        "as published versions. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="Bundle directories, or folders of bundle directories.")

    def handle(self, *args, paths, **options):
        targets: list[Path] = []
        for raw in paths or [str(settings.SLIPWAY_CATALOG_DIR)]:
            path = Path(raw)
            if path.is_dir() and find_bundles(path):
                targets += find_bundles(path)
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
