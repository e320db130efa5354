from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from bundles.loader import BundleError, read_bundle
from bundles.models import BundleVersion


class Command(BaseCommand):
    help = (
        "Check a bundle directory against the bundle format: meta-schema, params schema, module variables, "
        "presets and examples, ui keys, semver, and that a published version is not changed in place. "
        "Exits non-zero when anything fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="A bundle directory (holding bundle.yaml and src/).")

    def handle(self, *args, path, **options):
        root = Path(path)
        try:
            manifest = read_bundle(root)
        except BundleError as exc:
            for warning in exc.warnings:
                self.stderr.write(f"{root}: warning: {warning}")
            for problem in exc.problems:
                self.stderr.write(f"{root}: {problem}")
            raise CommandError(f"{root}: {len(exc.problems)} problem(s)") from exc
        try:
            published = BundleVersion.objects.filter(bundle__name=manifest.name, version=manifest.version).first()
        except DatabaseError:
            published = None  # linting works without a database; the publish step checks again
        if published and (
            published.module_sha256 != manifest.module_sha256 or published.manifest_sha256 != manifest.manifest_sha256
        ):
            self.stderr.write(
                f"{root}: bundle.yaml /version: {manifest.name} {manifest.version} is already published with "
                f"different files, and a published version never changes: bump the version"
            )
            raise CommandError(f"{root}: 1 problem(s)")
        for warning in manifest.warnings:
            self.stdout.write(f"{root}: warning: {warning}")
        self.stdout.write(f"{root}: {manifest.name} {manifest.version} is valid")
