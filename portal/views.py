from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static

from .models import APIToken


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; send them to the icon."""
    return HttpResponsePermanentRedirect(static("slipway.svg"))


def healthz(request):
    """Liveness for load balancers and compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


class ThrottledLoginView(auth_views.LoginView):
    """Sign-in that locks a username (and an address) out for a while after repeated failures."""

    redirect_authenticated_user = True

    def _keys(self) -> list[str]:
        username = (self.request.POST.get("username") or "").strip().lower()
        address = self.request.META.get("REMOTE_ADDR", "")
        return [f"login-fail:user:{username}", f"login-fail:addr:{address}"]

    def _locked(self) -> bool:
        limits = (settings.SLIPWAY_LOGIN_ATTEMPTS, settings.SLIPWAY_LOGIN_ATTEMPTS * 4)
        return any((cache.get(key) or 0) >= limit for key, limit in zip(self._keys(), limits, strict=True))

    def post(self, request, *args, **kwargs):
        if self._locked():
            form = self.get_form()
            minutes = settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS // 60
            form.add_error(None, f"Too many failed sign-ins. Try again in {minutes} minutes.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in self._keys():
            cache.add(key, 0, settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS)
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.SLIPWAY_LOGIN_LOCKOUT_SECONDS)
        return super().form_invalid(form)

    def form_valid(self, form):
        cache.delete(self._keys()[0])
        return super().form_valid(form)


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
