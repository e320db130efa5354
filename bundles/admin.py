import json

from django.contrib import admin
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from .models import Bundle, BundleVersion


class BundleVersionInline(admin.TabularInline):
    model = BundleVersion
    fields = ["version", "module_sha256", "published_at", "published_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bundle)
class BundleAdmin(SimpleHistoryAdmin):
    list_display = ["name", "title", "category", "owner", "updated_at"]
    list_filter = ["category"]
    search_fields = ["name", "title", "description"]
    readonly_fields = ["name", "created_at", "updated_at"]
    inlines = [BundleVersionInline]


@admin.register(BundleVersion)
class BundleVersionAdmin(SimpleHistoryAdmin):
    """Published versions are immutable: everything is read-only here."""

    list_display = ["__str__", "published_at", "published_by", "sha"]
    list_filter = ["bundle"]
    search_fields = ["bundle__name", "version"]
    readonly_fields = [
        "bundle",
        "version",
        "pretty_schema",
        "ui_schema",
        "presets",
        "connections",
        "artifacts",
        "runbook",
        "changelog",
        "module_sha256",
        "manifest_sha256",
        "module_variables",
        "published_at",
        "published_by",
    ]
    exclude = ["params_schema"]

    @admin.display(description="sha256")
    def sha(self, obj):
        return obj.module_sha256[:12]

    @admin.display(description="Params schema")
    def pretty_schema(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.params_schema, indent=2))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False
