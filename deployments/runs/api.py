"""The runs API: ``runs/`` (list, detail), ``runs/{id}/logs/?after=N``, and the actions on a run
(cancel, confirm a reviewed plan; approve or reject a held plan, for ops)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from portal.pagination import Pagination
from portal.querysets import CHANGE, require_actionable
from portal.serializers import RequestSerializer

from ..choices import RUN_WAITING
from ..filters import RunFilter
from ..models import Run, RunLogLine
from ..policy.services import run_approve, run_reject
from . import services
from .selectors import LOG_PAGE, run_log_after, runs_count, runs_visible_to


class RunSerializer(serializers.ModelSerializer):
    bundle_version = serializers.StringRelatedField()
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "deployment",
            "action",
            "status",
            "bundle_version",
            "params",
            "auto_apply",
            "requested_by_name",
            "channel",
            "reason",
            "approval_basis",
            "plan_summary",
            "resources_planned",
            "resources_done",
            "progress_percent",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
        ]


class RunLogLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunLogLine
        fields = ["seq", "stream", "level", "text", "event", "created_at"]


class RunLogPageSerializer(serializers.Serializer):
    lines = RunLogLineSerializer(many=True)
    next = serializers.IntegerField(help_text="Pass as ?after= to get the lines that follow.")
    finished = serializers.BooleanField(help_text="True when the run has ended and every line was returned.")
    waiting = serializers.BooleanField(
        help_text="True when the run waits for a person (its plan to be confirmed or approved) and every line so far "
        "was returned: no line comes until someone acts. Poll again after that."
    )
    status = serializers.CharField()


class DecisionSerializer(RequestSerializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


def decide(http, service, **target):
    """An ops decision through the API (a held plan, an exception): the comment from the body, ``service``'s answer."""
    body = DecisionSerializer(data=http.data)
    body.is_valid(raise_exception=True)
    return service(**target, actor=http.user, channel="api", comment=body.validated_data["comment"])


class RunPagination(Pagination):
    """The API's pagination; its ``count`` of every run comes from the database's tally, not a count of them."""

    def get_count(self, queryset):
        return runs_count(queryset)


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RunSerializer
    pagination_class = RunPagination
    filterset_class = RunFilter
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
            "finished": run.is_terminal and len(lines) < LOG_PAGE,
            "waiting": run.status in RUN_WAITING and len(lines) < LOG_PAGE,
            "status": run.status,
        }
        return Response(RunLogPageSerializer(data).data)

    def _decide(self, request, service):
        run = decide(request, service, run=self.get_object())
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued or held run at once, or ask a running one to stop."""
        run = require_actionable(request.user, self.get_object(), CHANGE, "You cannot cancel runs of this deployment.")
        run = services.run_cancel(run=run, actor=request.user, channel="api")
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: RunSerializer})
    @action(detail=True, methods=["post"], url_path="confirm")
    def confirm(self, request, pk=None):
        """Apply a plan that stopped for the requester's review."""
        run = require_actionable(request.user, self.get_object(), CHANGE, "You cannot apply runs of this deployment.")
        run = services.run_confirm_apply(run=run, actor=request.user, channel="api")
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DecisionSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Ops approve a plan the environment's policy held back."""
        return self._decide(request, run_approve)

    @extend_schema(request=DecisionSerializer, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Ops reject a held plan; a comment is required."""
        return self._decide(request, run_reject)
