"""Demo data: a team, a project with prototype and production environments, and the cast of users."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from deployments.choices import Tier
from deployments.models import Environment, Project
from deployments.policy.rules import policy_for
from portal.models import Membership, Team
from portal.roles import COMPLIANCE_GROUP, OPS_GROUP

APPS = ["portal", "bundles", "deployments", "audit", "auth"]

# What the demo environments allow: prototypes stay small, production is highly available and backed up.
DEMO_OVERLAYS = {
    Tier.PROTOTYPE: {"postgres": {"properties": {"size": {"enum": ["small", "medium"]}}}},
    Tier.PRODUCTION: {
        "postgres": {
            "properties": {"high_availability": {"const": True}, "backup_retention_days": {"minimum": 7}},
            "required": ["high_availability"],
        },
        "object-storage": {"properties": {"block_public_access": {"const": True}}},
    },
}


class Command(BaseCommand):
    help = "Create demo users (dev, ops, auditor), a demo team and project, and load the catalog. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=os.environ.get("SLIPWAY_DEMO_PASSWORD", ""),
            help="Password for the demo users (default: generated, printed once).",
        )
        parser.add_argument("--skip-catalog", action="store_true")

    @transaction.atomic
    def handle(self, *args, password, skip_catalog, **options):
        if not skip_catalog:
            call_command("sync_bundles", stdout=self.stdout, stderr=self.stderr)
        ops_group = self._group(OPS_GROUP, Permission.objects.filter(content_type__app_label__in=APPS))
        auditor_group = self._group(
            COMPLIANCE_GROUP, Permission.objects.filter(content_type__app_label__in=APPS, codename__startswith="view_")
        )
        team, _ = Team.objects.get_or_create(slug="payments", defaults={"name": "Payments"})
        project, _ = Project.objects.get_or_create(slug="checkout", defaults={"name": "Checkout", "team": team})
        for slug, name, tier in (("proto", "Prototype", Tier.PROTOTYPE), ("production", "Production", Tier.PRODUCTION)):
            environment, _ = Environment.objects.get_or_create(
                project=project, slug=slug, defaults={"name": name, "tier": tier}
            )
            policy = policy_for(environment)
            if policy.version == 1 and not policy.overlays:
                policy.overlays = DEMO_OVERLAYS[tier]
                policy.save()

        password = password or secrets.token_urlsafe(9)
        cast = [
            ("dev", "Dana Developer", [], team, False),
            ("ops", "Olu Ops", [ops_group], None, True),
            ("auditor", "Ari Auditor", [auditor_group], None, True),
        ]
        User = get_user_model()
        lines = []
        for username, full_name, groups, member_of, staff in cast:
            user, _created = User.objects.get_or_create(username=username)
            first, _, last = full_name.partition(" ")
            user.first_name, user.last_name, user.is_staff = first, last, staff
            user.email = f"{username}@example.com"
            user.set_password(password)
            user.save()
            user.groups.add(*groups)
            if member_of:
                Membership.objects.get_or_create(user=user, team=member_of)
            lines.append(f"  {username:<8} {password}   ({full_name})")
        self.stdout.write(self.style.SUCCESS("Demo users (sign in at http://127.0.0.1:8000/):"))
        self.stdout.write("\n".join(lines))

    def _group(self, name, permissions):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
        return group
