from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bundles.hcl import HCLError
from bundles.importer import scaffold
from bundles.loader import BundleError, read_bundle


class Command(BaseCommand):
    help = "Scaffold a bundle (bundle.yaml + src/) from an OpenTofu module's variables, then lint it."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The module directory (with variables.tf).")
        parser.add_argument("--name", required=True, help="The bundle name, e.g. redis-cache.")
        parser.add_argument("--output", help="Where to write the bundle (default: bundles/catalog/NAME/).")

    def handle(self, *args, path, name, output=None, **options):
        module = Path(path)
        if not module.is_dir() or not list(module.glob("*.tf")):
            raise CommandError(f"{module}: not a module directory (no .tf files)")
        target = Path(output) if output else Path(settings.SLIPWAY_CATALOG_DIR) / name
        try:
            report = scaffold(module=module, name=name, output=target)
        except (ValueError, FileExistsError, HCLError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote {target / 'bundle.yaml'} with {len(report.params['properties'])} params.")
        for condition in report.untranslated:
            self.stdout.write(f"  not translated (the module still checks it): {condition}")
        try:
            read_bundle(target)
        except BundleError as exc:
            for problem in exc.problems:
                self.stderr.write(f"{target}: {problem}")
            raise CommandError(f"{target}: the scaffolded bundle does not lint clean") from exc
        self.stdout.write(f"{target}: lints clean. Review titles and descriptions, add presets, then publish.")
