from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from deployments.alarms.webhook import alarm_webhook
from deployments.home import home
from deployments.runs import state_backend
from deployments.search import search

from . import views

# The composition root: it wires every app's pages together, so it may import any layer.
urlpatterns = [
    path("", home, name="home"),
    # Throttled by django-axes like every other door (portal.throttle).
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/tokens/", views.api_tokens, name="api-tokens"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("catalog/", include("bundles.urls")),
    path("deployments/", include("deployments.urls")),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The "split" view serves Swagger UI's setup script as a file: the Content-Security-Policy allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("state/<uuid:deployment_id>/", state_backend.state, name="state"),
    path("state/<uuid:deployment_id>/lock/", state_backend.state_lock, name="state-lock"),
    # A deployment's alarm webhook (Alertmanager, SNS): its token is the credential, see docs/alarms.md.
    path("hooks/alarms/<uuid:deployment_id>/", alarm_webhook, name="alarm-webhook"),
    path("search/", search, name="search"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
]

# JSON under /api/ and /state/ for a 500, with DEBUG off too (the API's documented error format).
handler500 = views.server_error

if settings.SLIPWAY_SANDBOX_ENABLED:
    # The sandbox cloud: a fake cloud's console and API, served here so `make run` needs nothing more.
    urlpatterns.append(path("sandbox/", include("portal.sandbox.urls")))
