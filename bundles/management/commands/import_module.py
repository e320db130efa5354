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
        parser.add_argument(
            "--connection",
            action="append",
            default=[],
            metavar="VARIABLE=TYPE",
            help="A variable that is a connection, with its resource type (e.g. database=postgresql); repeat it.",
        )

    def handle(self, *args, path, name, output=None, connection=(), **options):
        module = Path(path)
        pairs = [item.partition("=") for item in connection]
        if any(not var or not kind for var, _, kind in pairs):
            raise CommandError("--connection takes VARIABLE=TYPE, e.g. --connection database=postgresql")
        connections = {var: kind for var, _, kind in pairs}
        if not module.is_dir() or not list(module.glob("*.tf")):
            raise CommandError(f"{module}: not a module directory (no .tf files)")
        target = Path(output) if output else Path(settings.SLIPWAY_CATALOG_DIR) / name
        try:
            report = scaffold(module=module, name=name, output=target, connections=connections)
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
