from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from bundles.models import Bundle
from portal.admin import MadeElsewhere

from .estate.bulk import upgrade_candidates
from .models import (
    BulkChange,
    BulkTarget,
    Deployment,
    DriftCheck,
    Environment,
    ExceptionRequest,
    Policy,
    Project,
    Run,
    RunLogLine,
    SavedQuery,
    StateVersion,
)


class EnvironmentInline(admin.TabularInline):
    model = Environment
    extra = 0
    fields = ["slug", "name", "tier"]


@admin.register(Project)
class ProjectAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "name", "team", "created_at"]
    list_filter = ["team"]
    search_fields = ["slug", "name"]
    autocomplete_fields = ["team"]
    inlines = [EnvironmentInline]


@admin.register(Environment)
class EnvironmentAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "name", "tier"]
    list_filter = ["tier", "project__team"]
    search_fields = ["slug", "project__slug"]


@admin.register(Deployment)
class DeploymentAdmin(MadeElsewhere, SimpleHistoryAdmin):
    """Read-only: configuration changes go through the portal so they are validated and run, and a deployment
    is destroyed from its page (a run). Deleting the record here would destroy nothing, only forget what runs,
    so there is no delete (and no "Delete selected deployments" action)."""

    list_display = ["name", "environment", "bundle_version", "status", "version", "updated_at"]
    list_filter = ["status", "environment__tier", "bundle_version__bundle"]
    search_fields = ["name", "environment__project__slug"]
    readonly_fields = [
        "id",
        "environment",
        "name",
        "bundle_version",
        "params",
        "outputs",
        "status",
        "version",
        "created_by",
        "created_at",
        "updated_at",
    ]
    exclude = ["sensitive_outputs"]


class RunLogLineInline(admin.TabularInline):
    model = RunLogLine
    fields = ["seq", "stream", "level", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(Run)
class RunAdmin(MadeElsewhere, admin.ModelAdmin):
    """Runs are made by the services and kept: viewable, never added or deleted here."""

    list_display = ["id", "deployment", "action", "status", "requested_by_name", "channel", "created_at", "finished_at"]
    list_filter = ["status", "action", "channel"]
    search_fields = ["deployment__name", "requested_by_name"]
    readonly_fields = [f.name for f in Run._meta.fields]
    inlines = [RunLogLineInline]


@admin.register(DriftCheck)
class DriftCheckAdmin(MadeElsewhere, admin.ModelAdmin):
    """Drift checks are made by the workers and resolved on the deployment's page: read-only here."""

    list_display = ["id", "deployment", "status", "channel", "created_at", "finished_at", "resolution"]
    list_filter = ["status", "resolution", "channel"]
    search_fields = ["deployment__name", "drifted_attributes"]
    readonly_fields = [f.name for f in DriftCheck._meta.fields]


@admin.register(RunLogLine)
class RunLogLineAdmin(MadeElsewhere, admin.ModelAdmin):
    list_display = ["run", "seq", "stream", "level", "text"]
    list_filter = ["stream", "level"]
    readonly_fields = ["run", "seq", "stream", "level", "text", "event", "created_at"]


@admin.register(StateVersion)
class StateVersionAdmin(MadeElsewhere, admin.ModelAdmin):
    list_display = ["deployment", "serial", "lineage", "sha256", "created_by_run", "created_at"]
    readonly_fields = ["deployment", "serial", "lineage", "sha256", "created_by_run", "created_at"]
    exclude = ["encrypted_state"]


@admin.register(Policy)
class PolicyAdmin(SimpleHistoryAdmin):
    """Ops edit what each environment allows. Overlays are checked as JSON Schema when saved."""

    list_display = [
        "environment",
        "version",
        "allowed",
        "overlay_bundles",
        "gated_actions",
        "monthly_budget",
        "updated_at",
    ]
    list_filter = ["environment__tier"]
    search_fields = ["environment__slug", "environment__project__slug"]
    readonly_fields = ["version", "updated_at"]

    @admin.display(description="Allowed bundles")
    def allowed(self, obj):
        return ", ".join(obj.allowed_bundles) or "all"

    @admin.display(description="Overlays for")
    def overlay_bundles(self, obj):
        return ", ".join(sorted(obj.overlays)) or "—"


@admin.register(ExceptionRequest)
class ExceptionRequestAdmin(MadeElsewhere, admin.ModelAdmin):
    """Decisions are made on the Approvals page, where they run through the services and are audited."""

    list_display = ["id", "environment", "name", "bundle_version", "status", "requested_by_name", "created_at"]
    list_filter = ["status", "environment__tier"]
    readonly_fields = [f.name for f in ExceptionRequest._meta.fields if f.name != "sensitive_params"]
    exclude = ["sensitive_params"]


# --- The estate as a database: saved queries and bulk changes ------------------------------


@admin.register(SavedQuery)
class SavedQueryAdmin(admin.ModelAdmin):
    list_display = ["name", "query", "owner", "shared", "created_at"]
    list_filter = ["shared"]
    search_fields = ["name", "query"]


class BulkTargetInline(MadeElsewhere, admin.TabularInline):
    model = BulkTarget
    fields = ["deployment", "from_version", "verdict", "errors", "resources", "wave", "rollout", "run", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    allow_change = True


@admin.register(BulkChange)
class BulkChangeAdmin(MadeElsewhere, admin.ModelAdmin):
    """Read-only here: bulk changes are created, dry-run and rolled out from the portal, where each step is checked.

    The changelist offers the bundle upgrades waiting: every latest version with deployments on older ones.
    """

    list_display = ["id", "title", "status", "query", "waves_started", "created_by_name", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "query"]
    inlines = [BulkTargetInline]
    change_list_template = "deployments/bulk_admin_changelist.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in BulkChange._meta.fields]

    def changelist_view(self, request, extra_context=None):
        offers = []
        for bundle in Bundle.objects.order_by("name"):
            latest = bundle.latest_version()
            count = upgrade_candidates(latest).count() if latest else 0
            if count:
                offers.append({"version": latest, "count": count})
        return super().changelist_view(request, {"upgrade_offers": offers, **(extra_context or {})})
