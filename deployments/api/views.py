"""The API of projects, environments and deployments (with their actions: plan, apply, destroy,
unlock, reveal). Runs, exceptions and the estate have their viewsets in their packages."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from portal.idempotency import PARAMETER as IDEMPOTENCY_KEY
from portal.idempotency import idempotent
from portal.querysets import CHANGE, OPERATE, require_actionable

from .. import services
from ..connections import services as connection_services
from ..connections.api import ArtifactSerializer, GraphSerializer, RevealedArtifactSerializer, environment_graph
from ..connections.selectors import latest_artifacts
from ..drift import services as drift_services
from ..drift.api import DriftCheckSerializer, DriftSummarySerializer, drift_summary
from ..environments.api import EnvironmentActions
from ..environments.promote_api import PromoteActions
from ..filters import DeploymentFilter, EnvironmentFilter, ProjectFilter
from ..models import Environment, Run
from ..runs.api import RunSerializer
from ..runs.services import state_lock_force_unlock
from ..selectors import deployments_visible_to, environments_writable_by, projects_visible_to
from .serializers import (
    DeploymentActionSerializer,
    DeploymentApplySerializer,
    DeploymentCreatedSerializer,
    DeploymentCreateSerializer,
    DeploymentDestroySerializer,
    DeploymentSerializer,
    EnvironmentSerializer,
    ForceUnlockedSerializer,
    ForceUnlockSerializer,
    ProjectSerializer,
    RevealedOutputSerializer,
)


class ProjectViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    ordering_fields = ["slug"]

    def get_queryset(self):
        return projects_visible_to(self.request.user).order_by("slug")


class EnvironmentViewSet(EnvironmentActions, PromoteActions, viewsets.ReadOnlyModelViewSet):
    serializer_class = EnvironmentSerializer
    filterset_class = EnvironmentFilter
    ordering_fields = ["slug", "tier"]

    def get_queryset(self):
        return (
            Environment.objects.visible_to(self.request.user)
            .select_related("project")
            .order_by("project__slug", "slug")
        )

    @extend_schema(responses=GraphSerializer)
    @action(detail=True, methods=["get"])
    def graph(self, request, pk=None):
        """The environment as a graph: each deployment (its layer: producers at 0, a consumer above what it uses)
        and each connection, as the environment's diagram draws them."""
        return Response(GraphSerializer(environment_graph(self.get_object())).data)


class DeploymentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Deployments you can see. Creating one queues its first apply and returns it with the run."""

    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilter
    ordering_fields = ["name", "created_at", "updated_at", "status"]

    def get_queryset(self):
        # Each deployment's newest run in the same query (it was one query per row: 54 for a page).
        newest = Run.objects.filter(deployment=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
        return (
            deployments_visible_to(self.request.user).annotate(newest_run_id=Subquery(newest)).order_by("-updated_at")
        )

    def get_serializer_class(self):
        return DeploymentCreateSerializer if self.action == "create" else DeploymentSerializer

    def get_serializer(self, *args, **kwargs):
        if self.action == "create":
            kwargs["environments"] = environments_writable_by(self.request.user)
        return super().get_serializer(*args, **kwargs)

    @extend_schema(
        request=DeploymentCreateSerializer, responses={201: DeploymentCreatedSerializer}, parameters=[IDEMPOTENCY_KEY]
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deployment = services.deployment_create(
            environment=data["environment"],
            name=data["name"],
            bundle_version=data["bundle_version"],
            params=data["params"],
            connections=data.get("connections"),
            actor=request.user,
            channel="api",
            reason=data["reason"],
            auto_apply=data["auto_apply"],
        )
        body = DeploymentCreatedSerializer(deployment, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": deployment.get_absolute_url()})

    def _writable(self, deployment):
        return require_actionable(
            self.request.user, deployment, CHANGE, "You can read this deployment but not change it."
        )

    @extend_schema(request=DeploymentActionSerializer, responses={202: RunSerializer}, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"])
    @idempotent
    def plan(self, request, pk=None):
        """Plan the current configuration without applying it."""
        deployment = self._writable(self.get_object())
        body = DeploymentActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.deployment_plan(
            deployment=deployment, actor=request.user, channel="api", reason=body.validated_data["reason"]
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DeploymentApplySerializer, responses={202: RunSerializer}, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"])
    @idempotent
    def apply(self, request, pk=None):
        """Apply new params (validated against the bundle and the environment's policy), or the current ones again."""
        deployment = self._writable(self.get_object())
        body = DeploymentApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "params" in data or "connections" in data:
            run = services.deployment_update(
                deployment=deployment,
                params=data.get("params", deployment.params),
                connections=data.get("connections"),
                actor=request.user,
                channel="api",
                reason=data["reason"],
                auto_apply=data["auto_apply"],
                expected_version=data.get("expected_version"),
            )
        else:
            run = services.deployment_reapply(
                deployment=deployment,
                actor=request.user,
                channel="api",
                reason=data["reason"],
                auto_apply=data["auto_apply"],
            )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DeploymentDestroySerializer, responses={202: RunSerializer}, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"], url_path="destroy", url_name="destroy")
    @idempotent
    def destroy_action(self, request, pk=None):
        """Destroy everything the deployment created; ``confirm`` must be the deployment's name."""
        deployment = self._writable(self.get_object())
        body = DeploymentDestroySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["confirm"] != deployment.name:
            raise ValidationError({"confirm": f"Type the deployment's name, {deployment.name}, to confirm."})
        run = services.deployment_destroy(
            deployment=deployment, actor=request.user, channel="api", reason=body.validated_data["reason"]
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        methods=["GET"], request=None, responses=DriftSummarySerializer, operation_id="deployments_drift_retrieve"
    )
    @extend_schema(
        methods=["POST"], request=None, responses={202: DriftCheckSerializer}, operation_id="deployments_drift_create"
    )
    @action(detail=True, methods=["get", "post"])
    def drift(self, request, pk=None):
        """GET: the latest drift result and any check on its way. POST: check for drift now (202 with the check;
        one already queued is returned instead)."""
        deployment = self.get_object()
        if request.method == "POST":
            check = drift_services.drift_check_request(
                deployment=self._writable(deployment), actor=request.user, channel="api"
            )
            return Response(DriftCheckSerializer(check).data, status=status.HTTP_202_ACCEPTED)
        return Response(DriftSummarySerializer(drift_summary(deployment)).data)

    @extend_schema(request=ForceUnlockSerializer, responses={200: ForceUnlockedSerializer})
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        """Ops release a state lock a dead worker left behind; the reason is audited."""
        deployment = require_actionable(
            request.user, self.get_object(), OPERATE, "Only platform ops can force-unlock state."
        )
        body = ForceUnlockSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        info = state_lock_force_unlock(
            deployment=deployment, actor=request.user, channel="api", reason=body.validated_data["reason"]
        )
        return Response(ForceUnlockedSerializer(info).data)

    @extend_schema(responses=ArtifactSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def artifacts(self, request, pk=None):
        """The newest version of each artifact the deployment publishes, sensitive data masked."""
        rows = sorted(latest_artifacts(self.get_object()).values(), key=lambda a: a.name)
        return Response(ArtifactSerializer(rows, many=True).data)

    @extend_schema(request=None, responses={200: RevealedArtifactSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"artifacts/(?P<artifact>[^/]+)/reveal",
        url_name="artifact-reveal",
    )
    def artifact_reveal(self, request, pk=None, artifact=None):
        """Show one artifact's data in clear to someone who may change the deployment; every reveal is audited."""
        deployment = self._writable(self.get_object())
        try:
            found, data = connection_services.artifact_reveal(
                deployment=deployment, name=artifact, actor=request.user, channel="api"
            )
        except services.ServiceError as exc:
            raise NotFound(exc.message) from exc
        body = {"name": found.name, "type": found.type, "serial": found.serial, "data": data}
        return Response(RevealedArtifactSerializer(body).data)

    @extend_schema(request=None, responses={200: RevealedOutputSerializer})
    @action(detail=True, methods=["post"], url_path=r"outputs/(?P<output>[^/]+)/reveal", url_name="reveal")
    def reveal(self, request, pk=None, output=None):
        """Show one sensitive output in clear to someone who may change the deployment; every reveal is audited."""
        deployment = self._writable(self.get_object())
        try:
            value = services.sensitive_output_reveal(
                deployment=deployment, name=output, actor=request.user, channel="api"
            )
        except services.ServiceError as exc:
            raise NotFound(exc.message) from exc
        return Response(RevealedOutputSerializer({"name": output, "value": value}).data)
