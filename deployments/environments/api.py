"""The API of environments as a unit: ``environments/{id}/deploy/`` and ``teardown/`` (202 with the
environment run), ``environments/{id}/diff/?other=`` (the comparison), ``environments/{id}/fork/`` (201),
``environment-runs/`` (list, detail with levels, cancel)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from portal.querysets import CHANGE, require_actionable
from portal.serializers import RequestSerializer

from ..choices import Tier
from ..filters import EnvironmentRunFilter
from ..models import Environment, Project
from .compare import as_data, environment_diff
from .fork import environment_fork
from .models import EnvironmentRun, EnvironmentRunStep
from .services import environment_run_cancel, environment_run_start


class EnvironmentRunStepSerializer(serializers.ModelSerializer):
    deployment = serializers.UUIDField(source="deployment_id", read_only=True)
    name = serializers.CharField(source="deployment.name", read_only=True)
    level = serializers.SerializerMethodField(help_text="The order it runs in: 1 first.")
    run = serializers.IntegerField(source="run_id", read_only=True, allow_null=True)
    run_status = serializers.CharField(source="run.status", read_only=True, allow_null=True, default=None)

    class Meta:
        model = EnvironmentRunStep
        fields = ["deployment", "name", "level", "status", "run", "run_status", "error"]

    def get_level(self, step) -> int:
        return step.level + 1


class EnvironmentRunSerializer(serializers.ModelSerializer):
    environment = serializers.CharField(source="environment.__str__", read_only=True, help_text="project/environment")
    environment_id = serializers.IntegerField(read_only=True)
    level = serializers.SerializerMethodField(help_text="The level under way (1 first; 0 before the first starts).")
    steps = serializers.SerializerMethodField(help_text="Every deployment, level by level.")

    class Meta:
        model = EnvironmentRun
        fields = [
            "id",
            "environment",
            "environment_id",
            "action",
            "status",
            "level",
            "levels",
            "message",
            "error",
            "requested_by_name",
            "channel",
            "reason",
            "created_at",
            "finished_at",
            "steps",
        ]

    def get_level(self, env_run) -> int:
        return env_run.level + 1

    @extend_schema(responses=EnvironmentRunStepSerializer(many=True))
    def get_steps(self, env_run) -> list[dict]:
        steps = env_run.steps.select_related("deployment", "run").order_by("level", "deployment__name")
        return EnvironmentRunStepSerializer(steps, many=True).data


class EnvironmentDeploySerializer(RequestSerializer):
    action = serializers.ChoiceField(
        choices=[EnvironmentRun.Action.DEPLOY, EnvironmentRun.Action.PLAN],
        default=EnvironmentRun.Action.DEPLOY,
        help_text="deploy: apply every deployment (those the last teardown destroyed too); plan: plan each one.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class EnvironmentTeardownSerializer(RequestSerializer):
    confirm = serializers.CharField(help_text="The environment's slug, to confirm.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class EnvironmentForkSerializer(RequestSerializer):
    project = serializers.SlugField(help_text="The project of the new environment (one you can change).")
    slug = serializers.SlugField(max_length=60)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    tier = serializers.ChoiceField(choices=Tier.choices, default=Tier.PROTOTYPE)
    values = serializers.DictField(
        child=serializers.DictField(),
        required=False,
        default=dict,
        help_text="The values that are not copied (x-copyable: false): {deployment name: {JSON pointer: value}}.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class EnvironmentForkedSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="environment.pk")
    environment = serializers.CharField(source="environment.__str__", help_text="project/environment")
    tier = serializers.CharField(source="environment.tier")
    deployments = serializers.SerializerMethodField(help_text="The draft copies, by name.")
    left_to_fill = serializers.DictField(
        source="left", child=serializers.ListField(child=serializers.CharField()), help_text="Values not copied."
    )
    generated = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Values not copied that the bundle's x-generate rule made (where, never what).",
    )
    missing = serializers.DictField(help_text="Deployments whose params are not valid yet, with the errors.")

    def get_deployments(self, fork) -> list[str]:
        return [d.name for d in fork.deployments]


class DiffSideSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    bundle = serializers.CharField()
    version = serializers.CharField()
    status = serializers.CharField()


class DiffOnlySerializer(DiffSideSerializer):
    name = serializers.CharField()


class DiffValueSerializer(serializers.Serializer):
    pointer = serializers.CharField(help_text="The param's JSON pointer.")
    label = serializers.CharField(help_text="The param as the form labels it.")
    a = serializers.CharField(help_text="Its value in a, as shown to people; (sensitive) for a secret.")
    b = serializers.CharField()
    sensitive = serializers.BooleanField()


class DiffConnectionSerializer(serializers.Serializer):
    name = serializers.CharField()
    a = serializers.CharField(help_text="The producer's name in a, or (not set).")
    b = serializers.CharField()


class DiffPairSerializer(serializers.Serializer):
    name = serializers.CharField()
    same = serializers.BooleanField()
    a = DiffSideSerializer()
    b = DiffSideSerializer()
    version_differs = serializers.BooleanField()
    params = DiffValueSerializer(many=True)
    connections = DiffConnectionSerializer(many=True)


class EnvironmentDiffSerializer(serializers.Serializer):
    a = serializers.CharField(help_text="project/environment")
    b = serializers.CharField()
    same = serializers.BooleanField()
    only_in_a = DiffOnlySerializer(many=True)
    only_in_b = DiffOnlySerializer(many=True)
    deployments = DiffPairSerializer(many=True, help_text="The deployments in both, matched by name.")


class EnvironmentActions:
    """Mixed into the environments viewset: the actions on an environment as a whole."""

    def _changeable(self, environment):
        return require_actionable(
            self.request.user, environment, CHANGE, "You can read this environment but not change it."
        )

    @extend_schema(request=EnvironmentDeploySerializer, responses={202: EnvironmentRunSerializer})
    @action(detail=True, methods=["post"])
    def deploy(self, request, pk=None):
        """Deploy (or plan) every deployment of the environment, level by level of its connection graph."""
        environment = self._changeable(self.get_object())
        body = EnvironmentDeploySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        env_run = environment_run_start(
            environment=environment,
            action=body.validated_data["action"],
            actor=request.user,
            channel="api",
            reason=body.validated_data["reason"],
        )
        return Response(EnvironmentRunSerializer(env_run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=EnvironmentTeardownSerializer, responses={202: EnvironmentRunSerializer})
    @action(detail=True, methods=["post"])
    def teardown(self, request, pk=None):
        """Destroy every deployment of the environment, consumers first; ``confirm`` must be its slug."""
        environment = self._changeable(self.get_object())
        body = EnvironmentTeardownSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        env_run = environment_run_start(
            environment=environment,
            action=EnvironmentRun.Action.TEARDOWN,
            actor=request.user,
            channel="api",
            reason=body.validated_data["reason"],
            confirm=body.validated_data["confirm"],
        )
        return Response(EnvironmentRunSerializer(env_run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[OpenApiParameter("other", int, required=True, description="The environment to compare with.")],
        responses={200: EnvironmentDiffSerializer},
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        """This environment (``a``) against ``?other=`` (``b``): deployments matched by name, each one's bundle
        version, every param and connection that differs (secrets only as differing), and what exists in only
        one (``only_in_a``, ``only_in_b``)."""
        environment = self.get_object()
        other_id = request.query_params.get("other", "")
        if not other_id.isdigit():
            raise ValidationError({"other": "The id of the environment to compare with."})
        other = Environment.objects.visible_to(request.user).filter(pk=int(other_id)).first()
        if other is None:
            raise NotFound("No such environment.")
        return Response(as_data(environment_diff(environment, other)))

    @extend_schema(request=EnvironmentForkSerializer, responses={201: EnvironmentForkedSerializer})
    @action(detail=True, methods=["post"])
    def fork(self, request, pk=None):
        """A new environment with a draft copy of every deployment, connections re-pointed to the copies; values
        marked ``x-copyable: false`` are left out unless given in ``values``. Nothing runs until it is deployed."""
        source = self._changeable(self.get_object())
        body = EnvironmentForkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        project = Project.objects.actionable_by(request.user, CHANGE).filter(slug=data["project"]).first()
        if project is None:
            raise ValidationError({"project": f"No project {data['project']!r} that you can change."})
        fork = environment_fork(
            source=source,
            project=project,
            slug=data["slug"],
            name=data["name"],
            tier=data["tier"],
            actor=request.user,
            channel="api",
            reason=data["reason"],
            values=data["values"],
        )
        return Response(EnvironmentForkedSerializer(fork).data, status=status.HTTP_201_CREATED)


class EnvironmentRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Environment-wide actions (deploy, plan, teardown) you can see, newest first, with their levels."""

    serializer_class = EnvironmentRunSerializer
    filterset_class = EnvironmentRunFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return (
            EnvironmentRun.objects.visible_to(self.request.user).select_related("environment__project").order_by("-id")
        )

    @extend_schema(request=None, responses={200: EnvironmentRunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Start no further level; runs already started go on."""
        env_run = require_actionable(request.user, self.get_object(), CHANGE, "You cannot change this environment.")
        return Response(
            EnvironmentRunSerializer(environment_run_cancel(env_run=env_run, actor=request.user, channel="api")).data
        )
