"""The costs API: the figures of the costs page (``GET /api/v1/costs/?by=team|project|environment``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Deployment
from .selectors import BY, biggest, cost_groups, month_start

BY_PARAM = OpenApiParameter("by", str, enum=list(BY), description="Group by team, project or environment (team).")


class CostGroupSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The team slug, the project slug or project/environment.")
    currency = serializers.CharField()
    monthly = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="The monthly estimate now.")
    month_start = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="The monthly estimate at the start of this month."
    )
    change = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="monthly - month_start.")
    deployments = serializers.IntegerField(help_text="Priced deployments now.")


class CostDeploymentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    team = serializers.CharField(source="environment.project.team.slug")
    project = serializers.CharField(source="environment.project.slug")
    environment = serializers.CharField(source="environment.slug")
    bundle = serializers.CharField(source="bundle_version.bundle.name")
    version = serializers.CharField(source="bundle_version.version")
    monthly_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    cost_currency = serializers.CharField()


class CostsSerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=BY)
    since = serializers.DateTimeField(help_text="The start of this month: what `month_start` and `change` compare.")
    groups = CostGroupSerializer(many=True)
    biggest = CostDeploymentSerializer(many=True, help_text="The ten most expensive deployments now.")


class CostsView(APIView):
    """What each team, project or environment you can see costs a month, what changed this month, and the
    biggest deployments. Estimates come from each bundle's cost model; destroyed deployments count nothing."""

    @extend_schema(parameters=[BY_PARAM], responses=CostsSerializer)
    def get(self, request):
        by = request.query_params.get("by") or "team"
        if by not in BY:
            return Response(
                {"message": f"by must be one of {', '.join(BY)}.", "errors": {"/by": [f"Not one of {', '.join(BY)}."]}},
                status=400,
            )
        deployments = Deployment.objects.visible_to(request.user)
        since = month_start()
        groups = [{**vars(g), "change": g.change} for g in cost_groups(deployments, by, since=since)]
        body = {"by": by, "since": since, "groups": groups, "biggest": biggest(deployments)}
        return Response(CostsSerializer(body).data)
