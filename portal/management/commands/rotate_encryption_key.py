"""Re-encrypt every stored secret with the first key of SLIPWAY_ENCRYPTION_KEY, so the others can go."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal import crypto

CHUNK = 200


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value (sensitive params and outputs, plan files, state versions, exception "
        "requests) with the first key of SLIPWAY_ENCRYPTION_KEY. Afterwards the other keys can be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="check that every value decrypts; change nothing")

    def handle(self, *args, dry_run: bool, **options):
        keys = [k for k in settings.SLIPWAY_ENCRYPTION_KEY.split(",") if k.strip()]
        if len(keys) == 1:
            self.stdout.write(
                "Only one key is configured. To move to a new key, set SLIPWAY_ENCRYPTION_KEY=new,old on every "
                "web, worker and beat process, restart them, then run this command."
            )
        total, self._where = 0, ""
        try:
            with transaction.atomic():  # all or nothing: a value no key reads leaves everything as it was
                for model, field in crypto.encrypted_fields():
                    count = self._rotate(model, field, dry_run=dry_run)
                    total += count
                    self.stdout.write(f"{model._meta.label}.{field}: {count} {'read' if dry_run else 're-encrypted'}")
                if dry_run:
                    transaction.set_rollback(True)
        except crypto.KeyMismatch as exc:
            raise CommandError(f"{exc} Nothing was changed. ({self._where})") from None
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"Every one of {total} encrypted values decrypts. Nothing changed."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{total} encrypted values now use the first key. Remove the other keys from "
                    "SLIPWAY_ENCRYPTION_KEY (and from your .env backup), then restart web, workers and beat."
                )
            )

    def _rotate(self, model, field: str, *, dry_run: bool) -> int:
        manager = model._default_manager
        pks = list(manager.exclude(**{f"{field}__isnull": True}).order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), CHUNK):
            rows = manager.filter(pk__in=pks[start : start + CHUNK]).values_list("pk", field)
            for pk, value in rows:
                self._where = f"{model._meta.label}.{field} #{pk}"
                if not value:
                    continue
                if dry_run:
                    crypto.decrypt(value)
                else:
                    # update(): a key rotation is not a configuration change, so it writes no history row.
                    manager.filter(pk=pk).update(**{field: crypto.reencrypt(value)})
        return len(pks)
