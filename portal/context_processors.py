from .roles import is_auditor, is_ops


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"user_is_ops": is_ops(user), "user_is_auditor": is_auditor(user)}
