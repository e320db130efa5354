"""What every page's navigation shows: the user's roles, and for ops how much waits for them."""

from collections.abc import Callable

from .roles import is_auditor, is_ops

# How many things wait for an ops decision, counted by the apps that have them (they register a counter
# at start-up: the core does not know exceptions or held plans).
_waiting_for_ops: list[Callable[[], int]] = []


def count_waiting_for_ops(counter: Callable[[], int]) -> None:
    if counter not in _waiting_for_ops:
        _waiting_for_ops.append(counter)


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = {"user_is_ops": is_ops(user), "user_is_auditor": is_auditor(user)}
    context["user_can_deploy"] = context["user_is_ops"] or not context["user_is_auditor"]
    if context["user_is_ops"]:
        context["waiting_for_ops"] = sum(counter() for counter in _waiting_for_ops)
    return context
