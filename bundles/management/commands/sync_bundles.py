from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bundles.loader import BundleError, find_bundles, read_bundle
from bundles.resource_types import ResourceTypeError, find_resource_types, read_resource_type
from bundles.services import bundle_version_publish, resource_type_publish


class Command(BaseCommand):
    help = (
        "Load the resource types (bundles/resource-types/*.yaml) and bundle directories (default: every bundle "
        "in bundles/catalog/, each version in its own folder) as published versions. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "paths",
            nargs="*",
            help="Bundle directories, folders of bundle directories, or resource type files (NAME.yaml).",
        )

    def handle(self, *args, paths, **options):
        # The shipped resource types come first: bundles connect by them, and lint checks against them.
        type_files: list[Path] = find_resource_types(settings.SLIPWAY_RESOURCE_TYPES_DIR)
        targets: list[Path] = []
        for raw in paths or [str(settings.SLIPWAY_CATALOG_DIR)]:
            path = Path(raw)
            if path.is_file() and path.suffix in (".yaml", ".yml") and path.name != "bundle.yaml":
                type_files.append(path)
            elif path.is_dir() and find_bundles(path):
                targets += find_bundles(path)
            else:
                raise CommandError(
                    f"{path}: not a bundle directory (no bundle.yaml), a folder of bundles, nor a resource type file"
                )
        failures = 0
        for type_file in dict.fromkeys(type_files):
            try:
                published = resource_type_publish(manifest=read_resource_type(type_file))
            except ResourceTypeError as exc:
                failures += 1
                self._problems(exc.path, exc.problems)
                continue
            state = "published" if published.created else "unchanged"
            self.stdout.write(f"resource type {published.resource_type} {state}")
        for target in targets:
            try:
                result = bundle_version_publish(manifest=read_bundle(target))
            except BundleError as exc:
                failures += 1
                self._problems(exc.path, exc.problems)
                continue
            state = "published" if result.created else "unchanged"
            self.stdout.write(f"{result.version} {state}")
        if failures:
            raise CommandError(f"{failures} bundle(s) or resource type(s) could not be loaded")

    def _problems(self, path: str, problems: list[str]) -> None:
        self.stderr.write(self.style.ERROR(f"{path}:"))
        for problem in problems:
            self.stderr.write(f"  - {problem}")
