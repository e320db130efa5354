"""Global roles are Django groups; team roles are memberships."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

OPS_GROUP = "platform-ops"
COMPLIANCE_GROUP = "compliance"


def _in_group(user: AbstractBaseUser | AnonymousUser, name: str) -> bool:
    if not user.is_authenticated:
        return False
    cache = getattr(user, "_slipway_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._slipway_groups = cache
    return name in cache


def is_ops(user) -> bool:
    """Platform ops curate bundles, approve exceptions and may act on any deployment."""
    return bool(user.is_authenticated and (user.is_superuser or _in_group(user, OPS_GROUP)))


def is_auditor(user) -> bool:
    """Compliance reviewers read everything and change nothing."""
    return _in_group(user, COMPLIANCE_GROUP)


def can_read_everything(user) -> bool:
    return is_ops(user) or is_auditor(user)


def require_ops(actor, message: str = "Only platform ops can do this.") -> None:
    """The one check services make before an ops-only action: 403 for anyone else."""
    if not is_ops(actor):
        raise PermissionDenied(message)
