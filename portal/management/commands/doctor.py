from django.core.management.base import BaseCommand

from portal import doctor


class Command(BaseCommand):
    help = (
        "Check this installation the way production needs it (TLS and redirects, allowed hosts, the state "
        "backend, static files, public URL, email, the encryption key, database, broker, engine). Exits 1 on errors."
    )

    def handle(self, *args, **options):
        findings = doctor.run()
        style = {"error": self.style.ERROR, "warning": self.style.WARNING, "ok": self.style.SUCCESS}
        for name, level, text in findings:
            self.stdout.write(f"{style[level](level.upper()):<8} {name}: {text}")
        errors = sum(1 for _, level, _ in findings if level == "error")
        warnings = sum(1 for _, level, _ in findings if level == "warning")
        self.stdout.write(f"\n{errors} error(s), {warnings} warning(s).")
        if errors:
            raise SystemExit(1)
