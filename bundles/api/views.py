from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from rest_framework import viewsets

from ..models import Bundle, BundleVersion, ResourceType
from .serializers import BundleDetailSerializer, BundleSerializer, BundleVersionSerializer, ResourceTypeSerializer


class BundleViewSet(viewsets.ReadOnlyModelViewSet):
    """The catalog: every bundle with its published versions."""

    queryset = Bundle.objects.filter(versions__isnull=False).distinct().prefetch_related("versions")
    lookup_field = "name"
    filterset_fields = ["category"]
    ordering_fields = ["name", "category", "updated_at"]
    ordering = ["name"]

    def get_serializer_class(self):
        return BundleDetailSerializer if self.action == "retrieve" else BundleSerializer


class BundleVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Published versions of one bundle, newest first."""

    serializer_class = BundleVersionSerializer
    lookup_field = "version"
    lookup_value_regex = r"[0-9A-Za-z.+-]+"
    ordering_fields = ["published_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reads the model, not the data
            return BundleVersion.objects.none()
        bundle = get_object_or_404(Bundle, name=self.kwargs["bundle_name"])
        return (
            BundleVersion.objects.filter(bundle=bundle)
            .select_related("bundle")
            .order_by("-major", "-minor", "-patch", "-prerelease")
        )


class ResourceTypeViewSet(viewsets.ReadOnlyModelViewSet):
    """Resource types: the typed payloads connections carry, each at its newest published version (read-only;
    they are published from files by ``sync_bundles``)."""

    serializer_class = ResourceTypeSerializer
    lookup_field = "name"
    ordering_fields = ["name"]
    ordering = ["name"]

    def get_queryset(self):
        newest = ResourceType.objects.filter(name=OuterRef("name")).order_by(
            "-major", "-minor", "-patch", "-prerelease"
        )
        return ResourceType.objects.filter(pk=Subquery(newest.values("pk")[:1]))
