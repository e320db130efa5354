"""The REST API under /api/v1/: one router per app, joined here."""

from django.urls import include, path

urlpatterns = [
    path("", include("bundles.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("deployments.api.urls")),
]
