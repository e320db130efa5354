"""Audit API: events (filterable, paginated), the estate diff, a deployment's history, restore."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from deployments.choices import DeploymentStatus, Tier
from deployments.runs.api import RunSerializer
from portal.idempotency import PARAMETER as IDEMPOTENCY_KEY
from portal.idempotency import idempotent
from portal.pagination import Pagination

from .. import services
from ..access import deployment_for_history, require_reviewer
from ..forms import AsOfForm, WhenField
from ..models import AuditEvent, Channel
from ..selectors import EstateFilters, deployment_history, estate_as_of, estate_diff
from .serializers import (
    AsOfRowSerializer,
    AuditEventSerializer,
    EstateDiffSerializer,
    HistoryStepSerializer,
    RestoreSerializer,
)


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time, sent to the database in UTC: PostgreSQL refuses offsets beyond ±15:59 (a 500 otherwise)."""

    def filter(self, qs, value):
        return super().filter(qs, value.astimezone(UTC) if value else value)


class AuditEventFilter(django_filters.FilterSet):
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")
    event_type = django_filters.CharFilter()
    event_type__startswith = django_filters.CharFilter(field_name="event_type", lookup_expr="startswith")
    actor = django_filters.CharFilter(field_name="actor_name")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    deployment = django_filters.UUIDFilter(field_name="deployment_id")
    request_id = django_filters.CharFilter()
    # Where the event's subject stood when it was recorded.
    team = django_filters.CharFilter(field_name="scope_team")
    project = django_filters.CharFilter(field_name="scope_project")
    tier = django_filters.CharFilter(field_name="scope_tier")
    bundle = django_filters.CharFilter(field_name="deployment__bundle_version__bundle__name")

    class Meta:
        model = AuditEvent
        fields = []


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Audit events, newest first. Reviewers and ops see all; others see their deployments' events."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return AuditEvent.objects.visible_to(self.request.user).order_by("-created_at", "-id")


def _when(value: str | None, name: str):
    if not value:
        raise ValidationError({name: "Required: an ISO 8601 date or time, e.g. 2026-05-01T00:00:00Z."})
    try:
        return WhenField().clean(value)
    except Exception as exc:
        raise ValidationError({name: "Not a date or time; use ISO 8601, e.g. 2026-05-01T00:00:00Z."}) from exc


@extend_schema(
    parameters=[
        OpenApiParameter("from", str, required=True, description="Start of the window (ISO 8601)."),
        OpenApiParameter("to", str, required=True, description="End of the window (ISO 8601)."),
        *[OpenApiParameter(name, str) for name in ("team", "project", "tier", "bundle")],
        OpenApiParameter("limit", int),
        OpenApiParameter("offset", int),
    ],
    responses={200: EstateDiffSerializer},
)
@api_view(["GET"])
def estate_diff_view(request):
    """Deployments added, removed and changed between ``from`` and ``to``, with per-key changes,
    the runs in the window and whether a change was applied without a recorded approval."""
    require_reviewer(request.user, "The estate diff is")
    start, end = _when(request.query_params.get("from"), "from"), _when(request.query_params.get("to"), "to")
    if start > end:
        raise ValidationError({"from": "Must be before `to`."})
    scope = {k: request.query_params.get(k, "") for k in ("team", "project", "tier", "bundle")}
    diff = estate_diff(start, end, EstateFilters(**scope))
    paginator = Pagination()
    page = paginator.paginate_queryset(diff.entries, request)
    diff.load_runs(page)  # the runs of this page's entries (the counts need none)
    body = {
        "from_": start,
        "to": end,
        "counts": diff.counts(),
        "count": len(diff.entries),
        "next": paginator.get_next_link(),
        "previous": paginator.get_previous_link(),
        "results": [entry.as_dict() for entry in page],
    }
    return Response(EstateDiffSerializer(body).data)


@extend_schema(
    parameters=[
        OpenApiParameter("at", str, description="The time (ISO 8601); defaults to now."),
        OpenApiParameter("team", str),
        OpenApiParameter("project", str),
        OpenApiParameter("tier", str, enum=Tier.values),
        OpenApiParameter("bundle", str),
        OpenApiParameter("status", str, enum=DeploymentStatus.values),
        OpenApiParameter("name", str, description="Part of the deployment's name."),
        OpenApiParameter("include_destroyed", bool),
    ]
)
class EstateAsOfView(generics.ListAPIView):
    """Every deployment as it was at ``at``: its configuration then, newest history row at or before it."""

    serializer_class = AsOfRowSerializer
    filter_backends = []  # the query parameters above are the filters; the order is fixed

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return estate_as_of(timezone.now()).none()
        require_reviewer(self.request.user, "The estate as of a time is")
        flag = self.request.query_params.get("include_destroyed")
        if flag is not None and flag not in ("true", "false"):
            raise ValidationError({"include_destroyed": ["Must be true or false."]})
        form = AsOfForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError({name: list(messages) for name, messages in form.errors.items()})
        return estate_as_of(form.when(), form.filters())


@extend_schema(responses=HistoryStepSerializer(many=True))
@api_view(["GET"])
def deployment_history_view(request, pk):
    """Every version of the deployment, newest first, with key-by-key changes and the run each caused."""
    steps = deployment_history(deployment_for_history(request.user, pk))
    return Response(HistoryStepSerializer(steps, many=True).data)


@extend_schema(request=RestoreSerializer, responses={202: RunSerializer}, parameters=[IDEMPOTENCY_KEY])
@api_view(["POST"])
@idempotent
def deployment_restore_view(request, pk):
    """Queue a run that restores the params and connections of one history entry (channel ``restore``)."""
    deployment = deployment_for_history(request.user, pk, write=True)
    serializer = RestoreSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    run = services.deployment_restore(
        deployment=deployment,
        history_id=serializer.validated_data["history_id"],
        actor=request.user,
        reason=serializer.validated_data["reason"],
    )
    return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
