"""The API of preview environments, made for CI: ``previews/ensure/`` (idempotent: 201 when it made the preview,
200 when it brought it up to date), ``previews/teardown/`` (202), ``previews/`` (the list, with age, owner,
source and monthly cost)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from portal.api import ErrorSerializer
from portal.errors import ParamsInvalid
from portal.querysets import CHANGE, require_actionable
from portal.serializers import RequestSerializer

from ..models import Environment, Project
from .api import EnvironmentRunSerializer
from .previews import preview_ensure, preview_for, preview_teardown, source_key
from .selectors import PreviewRow, previews_visible_to

SOURCE_HELP = "The environment to copy: project/environment (e.g. checkout/staging) or its id."


class PreviewSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="environment.pk")
    environment = serializers.CharField(source="environment.__str__", help_text="project/environment")
    source = serializers.SerializerMethodField(help_text="The environment it copies (project/environment).")
    repository = serializers.CharField(source="environment.preview_repository")
    pull_request = serializers.CharField(source="environment.preview_pull_request")
    owner = serializers.SerializerMethodField(help_text="Who is told before it expires.")
    created_at = serializers.DateTimeField(source="environment.created_at")
    expires_at = serializers.DateTimeField(source="environment.preview_expires_at")
    torn_down_at = serializers.DateTimeField(source="environment.preview_torn_down_at", allow_null=True)
    deployments = serializers.IntegerField(help_text="Its deployments that are not destroyed.")
    monthly_cost = serializers.SerializerMethodField(help_text="{currency: monthly total} of its priced deployments.")
    monthly_cost_text = serializers.CharField(source="cost_text", help_text="The same, as people read it.")

    def get_source(self, row: PreviewRow) -> str | None:
        return str(row.environment.preview_source) if row.environment.preview_source_id else None

    def get_owner(self, row: PreviewRow) -> str | None:
        owner = row.environment.preview_owner
        return owner.get_username() if owner else None

    def get_monthly_cost(self, row: PreviewRow) -> dict[str, str]:
        return {currency: str(total) for currency, total in row.costs}


class PreviewKeySerializer(RequestSerializer):
    source = serializers.CharField(max_length=200, help_text=SOURCE_HELP)
    repository = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False, help_text="Free text, e.g. acme/checkout."
    )
    pull_request = serializers.CharField(trim_whitespace=False, help_text="Free text, e.g. 123.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class PreviewEnsureSerializer(PreviewKeySerializer):
    ttl_hours = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Time to live from now (default 72; 1 to 720)."
    )
    owner = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Username told before it expires (default: you)."
    )
    project = serializers.SlugField(
        required=False, allow_blank=True, default="", help_text="Where a new preview goes (default: the source's)."
    )
    slug = serializers.SlugField(
        required=False, allow_blank=True, default="", max_length=60, help_text="A new preview's slug (default pr-N)."
    )
    values = serializers.DictField(
        child=serializers.DictField(),
        required=False,
        default=dict,
        help_text="The values that are not copied (x-copyable: false): {deployment name: {JSON pointer: value}}.",
    )


class PreviewEnsuredSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="True when this call made the preview.")
    preview = serializers.SerializerMethodField()
    repointed = serializers.ListField(
        child=serializers.CharField(), help_text="Deployments brought to the source's current configuration."
    )
    added = serializers.ListField(child=serializers.CharField(), help_text="Deployments the source gained since.")
    left_to_fill = serializers.DictField(
        source="left", child=serializers.ListField(child=serializers.CharField()), help_text="Values not copied."
    )
    environment_run = EnvironmentRunSerializer(source="env_run", help_text="The deploy, level by level.")

    @extend_schema_field(PreviewSerializer)
    def get_preview(self, result) -> dict:
        (row,) = previews_visible_to(self.context["user"], pk=result.environment.pk)
        return PreviewSerializer(row).data


class PreviewTornDownSerializer(serializers.Serializer):
    preview = serializers.CharField(help_text="project/environment")
    environment_run = EnvironmentRunSerializer(allow_null=True, help_text="The teardown; null: nothing was left.")


def _source(user, ref: str) -> Environment:
    """The source environment: 400 when the user cannot see it (its existence does not leak), 403 when they can
    see it but not change it (a preview copies its secrets)."""
    visible = Environment.objects.visible_to(user).select_related("project")
    ref = ref.strip()
    found = None
    if ref.isascii() and ref.isdigit():
        found = visible.filter(pk=int(ref)).first() if int(ref) < 2**63 else None
    elif ref.count("/") == 1 and "\x00" not in ref:
        project, slug = ref.split("/")
        found = visible.filter(project__slug=project, slug=slug).first()
    if found is None:
        raise ValidationError({"source": f"No environment {ref[:100]!r} that you can see (write project/environment)."})
    return require_actionable(
        user, found, CHANGE, f"You can read {found} but not change it, so you cannot make previews of it."
    )


def _params_invalid(exc: ParamsInvalid) -> Response:
    return Response({"message": exc.message, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)


class PreviewViewSet(viewsets.ViewSet):
    """Preview environments: copies of an environment for one pull request, made from CI."""

    @extend_schema(responses=PreviewSerializer(many=True))
    def list(self, request):
        """The previews you can see, newest first: age, owner, source, expiry and monthly cost."""
        return Response(PreviewSerializer(previews_visible_to(request.user), many=True).data)

    @extend_schema(
        request=PreviewEnsureSerializer,
        responses={
            201: OpenApiResponse(PreviewEnsuredSerializer, description="Made and being deployed."),
            200: OpenApiResponse(PreviewEnsuredSerializer, description="Brought up to date, being deployed."),
        },
    )
    @action(detail=False, methods=["post"])
    def ensure(self, request):
        """Ensure the preview of ``source`` for ``repository``#``pull_request``: the first call forks the source
        into a new preview environment, later calls re-point it to the source's current configuration; both
        start its time to live again and deploy it level by level. The same call twice makes one preview."""
        body = PreviewEnsureSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        source = _source(request.user, data["source"])
        project = source.project
        if data["project"]:
            project = Project.objects.actionable_by(request.user, CHANGE).filter(slug=data["project"]).first()
            if project is None:
                raise ValidationError({"project": f"No project {data['project']!r} that you can change."})
        owner = None
        if data["owner"]:
            owner = get_user_model().objects.filter(username=data["owner"], is_active=True).first()
            if owner is None or not Project.objects.actionable_by(owner, CHANGE).filter(pk=project.pk).exists():
                raise ValidationError({"owner": f"No user {data['owner']!r} who can change {project}."})
        repository, pull_request = source_key(data["repository"], data["pull_request"])
        existing = preview_for(source=source, repository=repository, pull_request=pull_request)
        if existing is not None:
            require_actionable(
                request.user, existing, CHANGE, f"The preview {existing} is in a project you cannot change."
            )
        try:
            result = preview_ensure(
                source=source,
                project=project,
                repository=data["repository"],
                pull_request=data["pull_request"],
                ttl_hours=data["ttl_hours"],
                owner=owner,
                slug=data["slug"],
                values=data["values"],
                actor=request.user,
                channel="api",
                reason=data["reason"],
            )
        except ParamsInvalid as exc:
            return _params_invalid(exc)
        answer = PreviewEnsuredSerializer(result, context={"user": request.user}).data
        return Response(answer, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(
        request=PreviewKeySerializer,
        responses={
            202: PreviewTornDownSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No preview of that source for that pull request."),
        },
    )
    @action(detail=False, methods=["post"])
    def teardown(self, request):
        """Tear down the preview of ``source`` for ``repository``#``pull_request`` (every deployment destroyed,
        consumers first; a deploy under way stops after its level). 404 when there is no such preview; again on a
        preview already torn down, ``environment_run`` is null."""
        body = PreviewKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        source = _source(request.user, data["source"])
        repository, pull_request = source_key(data["repository"], data["pull_request"])
        preview = preview_for(source=source, repository=repository, pull_request=pull_request)
        if preview is None or not Environment.objects.visible_to(request.user).filter(pk=preview.pk).exists():
            raise NotFound(f"No preview of {source} for {repository}#{pull_request}.")
        require_actionable(request.user, preview, CHANGE, f"You cannot change {preview}.")
        env_run = preview_teardown(preview=preview, actor=request.user, channel="api", reason=data["reason"])
        answer = {
            "preview": str(preview),
            "environment_run": EnvironmentRunSerializer(env_run).data if env_run else None,
        }
        return Response(answer, status=status.HTTP_202_ACCEPTED)
