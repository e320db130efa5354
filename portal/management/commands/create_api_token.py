from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal.models import APIToken


class Command(BaseCommand):
    help = "Create a named API token for USERNAME and print its key (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label to recognise the token by.")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        _, key = APIToken.issue(user=user, name=name)
        self.stdout.write(key)
