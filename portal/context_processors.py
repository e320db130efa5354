from .roles import is_auditor, is_ops


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = {"user_is_ops": is_ops(user), "user_is_auditor": is_auditor(user)}
    context["user_can_deploy"] = context["user_is_ops"] or not context["user_is_auditor"]
    if context["user_is_ops"]:
        from deployments.models import ExceptionRequest, Run

        context["waiting_for_ops"] = (
            ExceptionRequest.objects.filter(status=ExceptionRequest.Status.PENDING).count()
            + Run.objects.filter(status="awaiting_approval").count()
        )
    return context
