"""The REST API under /api/v1/: one router per app, joined here."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # it changes nothing; a POST to a wrong path deserves the JSON 404, not a CSRF page
def api_not_found(request, *args, **kwargs):
    """Anything under /api/v1/ that matches no endpoint answers in the API's error format, not an HTML page."""
    return JsonResponse({"message": f"No API endpoint at {request.path}.", "errors": {}}, status=404)


urlpatterns = [
    path("", include("bundles.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("deployments.api.urls")),
    re_path(r"^[\s\S]*$", api_not_found, name="api-not-found"),  # keep last; [\s\S]: a path may hold a line break
]
