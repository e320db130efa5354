"""The drift API: ``drift-checks/`` (list, detail, revert, accept) and ``deployments/{id}/drift/`` (the latest
result, and a check on demand), served through the deployments router."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.querysets import CHANGE, require_actionable
from portal.serializers import RequestSerializer

from ..runs.api import RunSerializer
from . import services
from .models import DriftCheck, DriftStatus, Resolution


class DriftChangeSerializer(serializers.Serializer):
    path = serializers.CharField()
    before = serializers.JSONField(help_text="The value in Slipway's state (what was applied).", allow_null=True)
    after = serializers.JSONField(help_text="The value the cloud holds now.", allow_null=True)


class DriftResourceSerializer(serializers.Serializer):
    address = serializers.CharField()
    type = serializers.CharField()
    name = serializers.CharField()
    action = serializers.ChoiceField(choices=["changed", "deleted"])
    words = serializers.CharField()
    changes = DriftChangeSerializer(many=True)


class ObservedResourceSerializer(serializers.Serializer):
    address = serializers.CharField()
    type = serializers.CharField()
    name = serializers.CharField()
    id = serializers.JSONField(allow_null=True)
    attributes = serializers.DictField(child=serializers.JSONField(allow_null=True))


class DriftCheckSerializer(serializers.ModelSerializer):
    resources = DriftResourceSerializer(many=True, read_only=True)
    observed = ObservedResourceSerializer(many=True, read_only=True)
    status = serializers.ChoiceField(choices=DriftStatus.choices, read_only=True)
    resolution = serializers.ChoiceField(choices=[("", "Not resolved"), *Resolution.choices], read_only=True)

    class Meta:
        model = DriftCheck
        fields = [
            "id",
            "deployment",
            "status",
            "channel",
            "requested_by_name",
            "state_serial",
            "resources",
            "observed",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "resolution",
            "resolved_by_name",
            "resolved_at",
            "resolution_reason",
            "resolution_run",
        ]


class DriftSummarySerializer(serializers.Serializer):
    deployment_status = serializers.CharField()
    latest = DriftCheckSerializer(allow_null=True, help_text="The latest check with a result (in sync or drifted).")
    pending = DriftCheckSerializer(allow_null=True, help_text="A check queued or running now.")


class ResolveSerializer(RequestSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class DriftCheckFilter(django_filters.FilterSet):
    deployment = django_filters.UUIDFilter(field_name="deployment_id")
    status = django_filters.ChoiceFilter(choices=DriftStatus.choices)

    class Meta:
        model = DriftCheck
        fields = []


class DriftCheckViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DriftCheckSerializer
    filterset_class = DriftCheckFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return DriftCheck.objects.visible_to(self.request.user).order_by("-created_at", "-id")

    def _resolve(self, request, service):
        check = require_actionable(request.user, self.get_object(), CHANGE, "You cannot change this deployment.")
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = service(check=check, actor=request.user, channel="api", reason=body.validated_data["reason"])
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ResolveSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def revert(self, request, pk=None):
        """Apply the configuration again to undo the drift (the normal plan and policy path); 202 with the run."""
        return self._resolve(request, services.drift_revert)

    @extend_schema(request=ResolveSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Make the observed values the params where the bundle maps them (``x-observed-from``); 202 with the run."""
        return self._resolve(request, services.drift_accept)


def drift_summary(deployment) -> dict:
    checks = deployment.drift_checks.order_by("-created_at", "-id")
    return {
        "deployment_status": deployment.status,
        "latest": checks.filter(status__in=(DriftStatus.IN_SYNC, DriftStatus.DRIFTED)).first(),
        "pending": checks.filter(status__in=(DriftStatus.QUEUED, DriftStatus.RUNNING)).first(),
    }
