from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .. import services
from ..selectors import (
    deployments_visible_to,
    environments_writable_by,
    projects_visible_to,
    run_log_after,
    runs_visible_to,
)
from .serializers import (
    DeploymentCreatedSerializer,
    DeploymentCreateSerializer,
    DeploymentSerializer,
    EnvironmentSerializer,
    ProjectSerializer,
    RunLogPageSerializer,
    RunSerializer,
)


class ProjectViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProjectSerializer
    filterset_fields = ["slug", "team__slug"]
    ordering_fields = ["slug"]

    def get_queryset(self):
        return projects_visible_to(self.request.user).order_by("slug")


class EnvironmentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = EnvironmentSerializer
    filterset_fields = ["tier", "project__slug", "slug"]
    ordering_fields = ["slug", "tier"]

    def get_queryset(self):
        from ..models import Environment

        return (
            Environment.objects.select_related("project")
            .filter(project__in=projects_visible_to(self.request.user))
            .order_by("project__slug", "slug")
        )


class DeploymentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Deployments you can see. Creating one queues its first apply and returns it with the run."""

    serializer_class = DeploymentSerializer
    filterset_fields = ["status", "environment__slug", "environment__tier", "environment__project__slug"]
    ordering_fields = ["name", "created_at", "updated_at", "status"]

    def get_queryset(self):
        return deployments_visible_to(self.request.user).order_by("-updated_at")

    def get_serializer_class(self):
        return DeploymentCreateSerializer if self.action == "create" else DeploymentSerializer

    def get_serializer(self, *args, **kwargs):
        if self.action == "create":
            kwargs["environments"] = environments_writable_by(self.request.user)
        return super().get_serializer(*args, **kwargs)

    @extend_schema(request=DeploymentCreateSerializer, responses={201: DeploymentCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deployment = services.deployment_create(
            environment=data["environment"],
            name=data["name"],
            bundle_version=data["bundle_version"],
            params=data["params"],
            actor=request.user,
            channel="api",
            reason=data["reason"],
            auto_apply=data["auto_apply"],
        )
        body = DeploymentCreatedSerializer(deployment, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": deployment.get_absolute_url()})


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RunSerializer
    filterset_fields = ["status", "action", "deployment"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return runs_visible_to(self.request.user).order_by("-created_at", "-id")

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="Return lines with seq greater than this.")],
        responses=RunLogPageSerializer,
    )
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        """Log lines after the cursor ``?after=N``; poll until ``finished`` is true."""
        run = self.get_object()
        try:
            after = int(request.query_params.get("after", 0))
        except ValueError as exc:
            raise ValidationError({"after": "Must be a whole number (the seq of the last line you have)."}) from exc
        lines = run_log_after(run, after)
        data = {
            "lines": lines,
            "next": lines[-1].seq if lines else after,
            "finished": run.is_terminal and len(lines) < 500,
            "status": run.status,
        }
        return Response(RunLogPageSerializer(data).data)
