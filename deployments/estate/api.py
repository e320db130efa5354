"""API for the estate query (``estate/?q=``) and bulk changes (``bulk-changes/``, ops only)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from bundles.models import BundleVersion
from portal.idempotency import PARAMETER as IDEMPOTENCY_KEY
from portal.idempotency import idempotent
from portal.roles import require_ops
from portal.serializers import RequestSerializer

from ..models import BulkChange, BulkTarget
from ..selectors import deployments_visible_to
from . import bulk as bulk_services
from .dimensions import param_dimensions
from .query import Matches, QueryError, deployments_matching, matched_values, row_prefetch
from .rollout import dry_run_counts, rollout_counts

Q_PARAM = OpenApiParameter("q", str, description="An estate query, e.g. `bundle:postgres env.tier:production`.")


class EstateRowSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    team = serializers.CharField(source="environment.project.team.slug")
    project = serializers.CharField(source="environment.project.slug")
    environment = serializers.CharField(source="environment.slug")
    tier = serializers.CharField(source="environment.tier")
    bundle = serializers.CharField(source="bundle_version.bundle.name")
    version = serializers.CharField(source="bundle_version.version")
    status = serializers.CharField()
    matched = serializers.SerializerMethodField()

    def get_matched(self, obj) -> dict:
        fields = self.context.get("fields") or []
        resources = list(obj.state_resources.all()) if any(f.startswith("resource.") for f in fields) else None
        return matched_values(obj, fields, resources)


class EstateDimensionSerializer(serializers.Serializer):
    path = serializers.CharField()
    type = serializers.CharField()
    title = serializers.CharField()
    bundles = serializers.ListField(child=serializers.CharField())
    samples = serializers.ListField(child=serializers.JSONField())


class EstateDimensionsSerializer(serializers.Serializer):
    results = EstateDimensionSerializer(many=True)


class EstateViewSet(viewsets.GenericViewSet):
    """Query every deployment you can see; a bad query answers 400 with the position and a hint."""

    serializer_class = EstateRowSerializer
    filter_backends: list = []

    def get_queryset(self):
        return deployments_visible_to(self.request.user)

    @extend_schema(parameters=[Q_PARAM])
    def list(self, request):
        text = request.query_params.get("q", "")
        try:
            query, qs = deployments_matching(user=request.user, text=text)
        except QueryError as exc:
            return Response(
                {"message": str(exc), "errors": {"/q": [exc.message]}, "query_error": exc.as_dict()},
                status=status.HTTP_400_BAD_REQUEST,
            )
        page = self.paginate_queryset(Matches(qs, prefetch=row_prefetch(query.fields)))
        context = {**self.get_serializer_context(), "fields": query.fields}
        data = EstateRowSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(responses=EstateDimensionsSerializer)
    @action(detail=False, methods=["get"])
    def dimensions(self, request):
        """Every param path across all bundle versions (type, bundles, samples), plus outputs and resources."""
        dims = param_dimensions(deployments=deployments_visible_to(request.user))
        return Response({"results": [d.as_dict() for d in dims]})


class BulkTargetSerializer(serializers.ModelSerializer):
    deployment = serializers.CharField(source="deployment.__str__")
    deployment_id = serializers.UUIDField()
    from_version = serializers.CharField(source="from_version.version")

    class Meta:
        model = BulkTarget
        fields = ["deployment_id", "deployment", "from_version", "verdict", "errors", "resources", "plan_run", "wave"]
        fields += ["rollout", "run", "error"]


class BulkChangeSerializer(serializers.ModelSerializer):
    target_version = serializers.PrimaryKeyRelatedField(read_only=True)
    counts = serializers.SerializerMethodField()

    class Meta:
        model = BulkChange
        fields = ["id", "title", "query", "patch", "target_version", "plan", "status", "message", "wave_size"]
        fields += ["pause_seconds", "failure_threshold", "include_risky", "waves_started", "created_by_name"]
        fields += ["created_at", "started_at", "finished_at", "counts"]

    def get_counts(self, obj) -> dict:
        return {"dry_run": dry_run_counts(obj), "rollout": rollout_counts(obj)}


class BulkChangeCreateSerializer(RequestSerializer):
    """The arguments of ``bulk_change_create``, by name."""

    title = serializers.CharField(required=False, allow_blank=True, default="")
    query = serializers.CharField()
    patch = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    target_version = serializers.PrimaryKeyRelatedField(
        queryset=BundleVersion.objects.all(), required=False, allow_null=True, default=None
    )
    plan = serializers.BooleanField(required=False, default=False)
    dry_run = serializers.BooleanField(required=False, default=True, help_text="Start the dry run at once.")


class RolloutSerializer(RequestSerializer):
    wave_size = serializers.IntegerField(min_value=1, default=5)
    pause_seconds = serializers.IntegerField(min_value=0, default=0)
    failure_threshold = serializers.IntegerField(min_value=1, default=1)
    include_risky = serializers.BooleanField(default=False)


class BulkChangeViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Bulk changes: create (and dry-run), read the report, roll out, cancel. Platform ops only."""

    serializer_class = BulkChangeSerializer
    filter_backends: list = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        require_ops(request.user, "Only platform ops can run bulk changes.")

    def get_queryset(self):
        return (
            BulkChange.objects.visible_to(self.request.user)
            .select_related("target_version")
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        request=BulkChangeCreateSerializer, responses={201: BulkChangeSerializer}, parameters=[IDEMPOTENCY_KEY]
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = BulkChangeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        bulk = bulk_services.bulk_change_create(**data, actor=request.user)
        return Response(BulkChangeSerializer(bulk).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def targets(self, request, pk=None):
        """Each target's verdict (with errors or resources) and rollout status."""
        bulk = self.get_object()
        qs = bulk.targets.select_related("deployment__environment__project", "from_version").order_by("id")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(BulkTargetSerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: BulkChangeSerializer})
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        bulk = bulk_services.bulk_dry_run_start(bulk=self.get_object(), actor=request.user)
        return Response(BulkChangeSerializer(bulk).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RolloutSerializer, responses={202: BulkChangeSerializer}, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"])
    @idempotent
    def rollout(self, request, pk=None):
        body = RolloutSerializer(data=request.data)
        if not body.is_valid():
            raise ValidationError(body.errors)
        bulk = bulk_services.bulk_rollout_start(bulk=self.get_object(), actor=request.user, **body.validated_data)
        return Response(BulkChangeSerializer(bulk).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: BulkChangeSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        bulk = bulk_services.bulk_cancel(bulk=self.get_object(), actor=request.user)
        return Response(BulkChangeSerializer(bulk).data)
