"""The exceptions API: ``exceptions/`` (ask for params outside a policy; list, detail) and ops'
decisions on them (``approve/``, ``reject/``)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from bundles.models import Bundle
from portal.idempotency import PARAMETER as IDEMPOTENCY_KEY
from portal.idempotency import idempotent
from portal.querysets import CHANGE, object_for
from portal.serializers import RequestSerializer

from ..filters import ExceptionRequestFilter
from ..models import Deployment, Environment, ExceptionRequest
from ..runs.api import DecisionSerializer, RunSerializer, decide
from ..selectors import environments_writable_by
from .selectors import exceptions_visible_to
from .services import exception_approve, exception_reject, exception_request_create


class ExceptionRequestSerializer(serializers.ModelSerializer):
    environment = serializers.CharField(source="environment.__str__", read_only=True)
    bundle = serializers.CharField(source="bundle_version.bundle.name", read_only=True)
    bundle_version = serializers.CharField(source="bundle_version.version", read_only=True)

    class Meta:
        model = ExceptionRequest
        fields = [
            "id",
            "environment",
            "name",
            "bundle",
            "bundle_version",
            "deployment",
            "params",
            "connections",
            "violations",
            "fields",
            "policy_version",
            "reason",
            "status",
            "requested_by_name",
            "decided_by_name",
            "decision_comment",
            "run",
            "created_at",
            "decided_at",
            "expires_at",
        ]


class ExceptionApproveSerializer(DecisionSerializer):
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Approve until then; omit for no expiry."
    )


class ExceptionRequestCreateSerializer(RequestSerializer):
    """Ask for params outside the policy: for a new deployment (environment + name + bundle) or an existing one."""

    deployment = serializers.UUIDField(required=False)
    environment = serializers.PrimaryKeyRelatedField(queryset=Environment.objects.none(), required=False)
    name = serializers.SlugField(max_length=60, required=False)
    bundle = serializers.SlugRelatedField(slug_field="name", queryset=Bundle.objects.all(), required=False)
    params = serializers.JSONField()
    connections = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="The producers the change asks for ({connection: deployment id or name; empty to disconnect an "
        "optional one}); connections left out keep theirs (a new deployment: the environment's default where the "
        "bundle says so). Made with the change when the exception is approved.",
    )
    reason = serializers.CharField(max_length=2000)

    def __init__(self, *args, environments=None, **kwargs):
        super().__init__(*args, **kwargs)
        if environments is not None:
            self.fields["environment"].queryset = environments

    def validate(self, attrs):
        if not isinstance(attrs.get("params"), dict):
            raise serializers.ValidationError({"params": "Must be a JSON object."})
        if "deployment" not in attrs and not {"environment", "name", "bundle"} <= set(attrs):
            raise serializers.ValidationError("Give either a deployment, or an environment, a name and a bundle.")
        return attrs


class ExceptionRequestViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Requests for params outside an environment's policy, and ops decisions on them."""

    serializer_class = ExceptionRequestSerializer
    filterset_class = ExceptionRequestFilter
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
            try:
                deployment = object_for(
                    request.user,
                    Deployment.objects,
                    action=CHANGE,
                    message="You cannot change this deployment.",
                    pk=data["deployment"],
                )
            except Http404 as exc:  # a reference in the body, not the resource asked for: a field error
                raise ValidationError({"deployment": ["No such deployment that you can see."]}) from exc
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
        exception = exception_request_create(
            **target,
            params=data["params"],
            connections=data.get("connections"),
            reason=data["reason"],
            actor=request.user,
            channel="api",
        )
        return Response(ExceptionRequestSerializer(exception).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ExceptionApproveSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        body = ExceptionApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = exception_approve(
            request=self.get_object(),
            actor=request.user,
            channel="api",
            comment=body.validated_data["comment"],
            expires_at=body.validated_data["expires_at"],
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DecisionSerializer, responses={200: ExceptionRequestSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return Response(ExceptionRequestSerializer(decide(request, exception_reject, request=self.get_object())).data)
