"""Listed by `manage.py help`; manage.py runs it before loading settings (see portal.envfile)."""

from django.core.management.base import BaseCommand, CommandError

from portal import envfile


class Command(BaseCommand):
    help = "Create the .env file with SECRET_KEY and SLIPWAY_ENCRYPTION_KEY, once (refuses to overwrite it)."

    def add_arguments(self, parser):
        parser.add_argument("--path", default=".env")
        parser.add_argument("--public-url", default="http://localhost:8000")
        parser.add_argument("--tls", choices=["off", "proxy", "on"], default="off")

    def handle(self, *args, path, public_url, tls, **options):
        argv = ["--path", path, "--public-url", public_url, "--tls", tls]
        if envfile.main(argv) != 0:
            raise CommandError(f"{path} already exists: not touching it.")
