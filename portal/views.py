from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static

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
