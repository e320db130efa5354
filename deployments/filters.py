"""One filterset per list, shared by the pages and the API (``filterset_class``): a filter means the same
whichever door asks, and a new one is added once."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from bundles.models import BundleVersion

from .choices import DeploymentStatus, RunAction, RunStatus, Tier
from .models import Deployment, Environment, EnvironmentRun, ExceptionRequest, Project, Run


class DeploymentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name, project or bundle contains")
    name = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=DeploymentStatus.choices)
    environment__slug = django_filters.CharFilter()
    environment__tier = django_filters.ChoiceFilter(choices=Tier.choices)
    environment__project__slug = django_filters.CharFilter()

    class Meta:
        model = Deployment
        fields = []

    def search(self, queryset, name, value):
        # Projects and bundles are few: their matching environments and versions are read first, so the
        # deployments are found along three indexes (the name's trigram index on PostgreSQL, and the two
        # foreign keys) instead of one OR across the joined tables, which read every deployment (issue 18).
        environments = list(Environment.objects.filter(project__slug__icontains=value).values_list("pk", flat=True))
        versions = list(BundleVersion.objects.filter(bundle__name__icontains=value).values_list("pk", flat=True))
        return queryset.filter(
            Q(name__icontains=value) | Q(environment_id__in=environments) | Q(bundle_version_id__in=versions)
        )


class RunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    action = django_filters.ChoiceFilter(choices=RunAction.choices)
    deployment = django_filters.UUIDFilter(field_name="deployment_id")

    class Meta:
        model = Run
        fields = []


class ExceptionRequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ExceptionRequest.Status.choices)
    environment = django_filters.NumberFilter(field_name="environment_id")
    bundle_version__bundle__name = django_filters.CharFilter()

    class Meta:
        model = ExceptionRequest
        fields = []


class ProjectFilter(django_filters.FilterSet):
    slug = django_filters.CharFilter()
    team__slug = django_filters.CharFilter()

    class Meta:
        model = Project
        fields = []


class EnvironmentFilter(django_filters.FilterSet):
    tier = django_filters.ChoiceFilter(choices=Tier.choices)
    project__slug = django_filters.CharFilter()
    slug = django_filters.CharFilter()
    is_preview = django_filters.BooleanFilter()

    class Meta:
        model = Environment
        fields = []


class EnvironmentRunFilter(django_filters.FilterSet):
    environment = django_filters.NumberFilter(field_name="environment_id")
    action = django_filters.ChoiceFilter(choices=EnvironmentRun.Action.choices)
    status = django_filters.ChoiceFilter(choices=EnvironmentRun.Status.choices)

    class Meta:
        model = EnvironmentRun
        fields = []
