from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.csrf import requires_csrf_token

from . import health
from .models import APIToken


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; send them to the icon."""
    return HttpResponsePermanentRedirect(static("slipway.svg"))


def healthz(request):
    """Readiness for load balancers and compose: the database and the broker answer.

    503 names what is down, so a probe, an operator or a test sees a broker outage instead of a
    cheerful 200 (signing in and browsing still work meanwhile; runs wait in the database).
    """
    checks = {"database": health.database_problem() or "ok", "broker": health.broker_problem() or "ok"}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"ok": healthy, **checks}, status=200 if healthy else 503)


@login_required
def api_tokens(request):
    """A user's own API tokens: create one (its key is shown once), see when each was last used, revoke."""
    if request.method == "POST":
        if "revoke" in request.POST:
            token = get_object_or_404(APIToken, pk=request.POST["revoke"], user=request.user)
            token.revoke()
            messages.info(request, f"Token {token.name} revoked.")
            return redirect("api-tokens")
        name = (request.POST.get("name") or "").strip()[:100]
        if not name:
            messages.error(request, "Give the token a name, e.g. ci-pipeline.")
            return redirect("api-tokens")
        _, key = APIToken.issue(user=request.user, name=name)
        # Shown on the next page view only: a reload must not mint another token.
        request.session["new_api_token"] = key
        return redirect("api-tokens")
    return render(
        request,
        "portal/tokens.html",
        {"tokens": APIToken.objects.filter(user=request.user), "new_key": request.session.pop("new_api_token", None)},
    )


@requires_csrf_token
def server_error(request):
    """Django's 500 (``handler500``), with the API's error format under ``/api/`` and ``/state/``: a client
    that parses JSON gets JSON for every status, with ``DEBUG`` on or off."""
    if request.path.startswith(("/api/", "/state/")):
        message = "Internal server error: the failure is logged; tell your platform team the request id."
        request_id = getattr(request, "id", "")
        if request_id:
            message = f"Internal server error: the failure is logged under request id {request_id}."
        return JsonResponse({"message": message, "errors": {}}, status=500)
    return defaults.server_error(request)
