from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from portal.idempotency import PARAMETER as IDEMPOTENCY_KEY
from portal.idempotency import idempotent
from portal.roles import is_ops

from .. import services
from ..choices import RUN_WAITING
from ..selectors import (
    can_change_deployment,
    deployments_visible_to,
    environments_writable_by,
    exceptions_visible_to,
    projects_visible_to,
    run_log_after,
    runs_visible_to,
)
from .serializers import (
    DecisionSerializer,
    DeploymentActionSerializer,
    DeploymentApplySerializer,
    DeploymentCreatedSerializer,
    DeploymentCreateSerializer,
    DeploymentDestroySerializer,
    DeploymentSerializer,
    EnvironmentSerializer,
    ExceptionRequestCreateSerializer,
    ExceptionRequestSerializer,
    ForceUnlockedSerializer,
    ForceUnlockSerializer,
    ProjectSerializer,
    RevealedOutputSerializer,
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
    filterset_fields = ["name", "status", "environment__slug", "environment__tier", "environment__project__slug"]
    ordering_fields = ["name", "created_at", "updated_at", "status"]

    def get_queryset(self):
        return deployments_visible_to(self.request.user).order_by("-updated_at")

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
            actor=request.user,
            channel="api",
            reason=data["reason"],
            auto_apply=data["auto_apply"],
        )
        body = DeploymentCreatedSerializer(deployment, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": deployment.get_absolute_url()})

    def _writable(self, deployment):
        if not can_change_deployment(self.request.user, deployment):
            raise PermissionDenied("You can read this deployment but not change it.")
        return deployment

    @extend_schema(request=DeploymentActionSerializer, responses={202: RunSerializer}, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"])
    @idempotent
    def plan(self, request, pk=None):
        """Plan the current configuration without applying it."""
        deployment = self._writable(self.get_object())
        body = DeploymentActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.run_request(
            deployment=deployment,
            action="plan",
            actor=request.user,
            channel="api",
            reason=body.validated_data["reason"],
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
        if "params" in data:
            run = services.deployment_update(
                deployment=deployment,
                params=data["params"],
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

    @extend_schema(request=ForceUnlockSerializer, responses={200: ForceUnlockedSerializer})
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        """Ops release a state lock a dead worker left behind; the reason is audited."""
        deployment = self.get_object()
        if not is_ops(request.user):
            raise PermissionDenied("Only platform ops can force-unlock state.")
        body = ForceUnlockSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        info = services.state_lock_force_unlock(
            deployment=deployment, actor=request.user, channel="api", reason=body.validated_data["reason"]
        )
        return Response(ForceUnlockedSerializer(info).data)

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
        """Log lines after the cursor ``?after=N``; poll until ``finished`` (or ``waiting``) is true."""
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
            "waiting": run.status in RUN_WAITING and len(lines) < 500,
            "status": run.status,
        }
        return Response(RunLogPageSerializer(data).data)

    def _decide(self, request, service):
        run = self.get_object()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = service(run=run, actor=request.user, channel="api", comment=body.validated_data["comment"])
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued or held run at once, or ask a running one to stop."""
        run = self.get_object()
        if not can_change_deployment(request.user, run.deployment):
            raise PermissionDenied("You cannot cancel runs of this deployment.")
        run = services.run_cancel(run=run, actor=request.user, channel="api")
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: RunSerializer})
    @action(detail=True, methods=["post"], url_path="confirm")
    def confirm(self, request, pk=None):
        """Apply a plan that stopped for the requester's review."""
        run = self.get_object()
        if not can_change_deployment(request.user, run.deployment):
            raise PermissionDenied("You cannot apply runs of this deployment.")
        run = services.run_confirm_apply(run=run, actor=request.user, channel="api")
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DecisionSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Ops approve a plan the environment's policy held back."""
        return self._decide(request, services.run_approve)

    @extend_schema(request=DecisionSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Ops reject a held plan; a comment is required."""
        return self._decide(request, services.run_reject)


class ExceptionRequestViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Requests for params outside an environment's policy, and ops decisions on them."""

    serializer_class = ExceptionRequestSerializer
    filterset_fields = ["status", "environment", "bundle_version__bundle__name"]
    ordering_fields = ["created_at", "decided_at"]

    def get_queryset(self):
        return exceptions_visible_to(self.request.user).order_by("-created_at")

    def get_serializer_class(self):
        return ExceptionRequestCreateSerializer if self.action == "create" else ExceptionRequestSerializer

    def get_serializer(self, *args, **kwargs):
        if self.action == "create":
            kwargs["environments"] = environments_writable_by(self.request.user)
        return super().get_serializer(*args, **kwargs)

    @extend_schema(
        request=ExceptionRequestCreateSerializer,
        responses={201: ExceptionRequestSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "deployment" in data:
            deployment = deployments_visible_to(request.user).filter(pk=data["deployment"]).first()
            if deployment is None:
                raise NotFound("No such deployment.")
            if not can_change_deployment(request.user, deployment):
                raise PermissionDenied("You cannot change this deployment.")
            target = {
                "environment": deployment.environment,
                "bundle_version": deployment.bundle_version,
                "name": deployment.name,
                "deployment": deployment,
            }
        else:
            target = {
                "environment": data["environment"],
                "bundle_version": data["bundle"].latest_version(),
                "name": data["name"],
            }
        exception = services.exception_request_create(
            **target, params=data["params"], reason=data["reason"], actor=request.user, channel="api"
        )
        return Response(ExceptionRequestSerializer(exception).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DecisionSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.exception_approve(
            request=self.get_object(), actor=request.user, comment=body.validated_data["comment"], channel="api"
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DecisionSerializer, responses={200: ExceptionRequestSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        exception = services.exception_reject(
            request=self.get_object(), actor=request.user, comment=body.validated_data["comment"], channel="api"
        )
        return Response(ExceptionRequestSerializer(exception).data)
