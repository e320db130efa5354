from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from .models import APIToken, Membership, Team


def refuse_admin_revert() -> None:
    """Make the admin's "view a past version" page read-only, for every SimpleHistoryAdmin.

    ``SIMPLE_HISTORY_REVERT_DISABLED`` only hides the revert button: simple-history's
    ``history_form_view`` still saves a POSTed form, which would write an old version back over
    the row, outside the services, with no run and no validation. Restoring is
    ``audit.services.deployment_restore``; this page only shows.
    """
    original = SimpleHistoryAdmin.history_form_view
    if getattr(original, "read_only", False):
        return

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD") and getattr(settings, "SIMPLE_HISTORY_REVERT_DISABLED", False):
            raise PermissionDenied("History is read-only; restore a configuration from its history page instead.")
        return original(self, request, object_id, version_id, extra_context)

    history_form_view.read_only = True
    SimpleHistoryAdmin.history_form_view = history_form_view


refuse_admin_revert()  # the admin loads this module (autodiscovery) before it serves any page


class MadeElsewhere:
    """For an admin (or inline) of records that are made by the services, never typed in here: nothing is
    added, and changing or deleting is allowed only where the admin says so."""

    allow_change = False
    allow_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return self.allow_change and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.allow_delete and super().has_delete_permission(request, obj)


admin.site.site_header = "Slipway administration"
admin.site.site_title = "Slipway admin"
admin.site.index_title = "Bundles, policies, teams and runs"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_hint", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username"]
    readonly_fields = ["key_hint", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are shown once: create them with `manage.py create_api_token`

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            token.revoke()
