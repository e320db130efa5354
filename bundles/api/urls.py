from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import BundleVersionViewSet, BundleViewSet, ResourceTypeViewSet

router = SimpleRouter()
router.register("bundles", BundleViewSet, basename="bundle")
router.register("resource-types", ResourceTypeViewSet, basename="resource-type")

versions = BundleVersionViewSet.as_view({"get": "list"})
version_detail = BundleVersionViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    *router.urls,
    path("bundles/<slug:bundle_name>/versions/", versions, name="bundle-version-list"),
    path("bundles/<slug:bundle_name>/versions/<str:version>/", version_detail, name="bundle-version-detail"),
]
