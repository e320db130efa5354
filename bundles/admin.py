import json
from base64 import b64encode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from portal.admin import MadeElsewhere
from portal.roles import is_ops

from .diff import schema_changes, unified
from .loader import BundleError
from .models import Bundle, BundleVersion, ResourceType
from .services import bundle_version_publish_archive

UPLOAD_MAX_BYTES = 25 * 1024 * 1024


class BundleVersionInline(MadeElsewhere, admin.TabularInline):
    model = BundleVersion
    fields = ["version", "module_sha256", "published_at", "published_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    allow_change = True


@admin.register(Bundle)
class BundleAdmin(SimpleHistoryAdmin):
    """Bundles, their versions, a params-schema diff between any two, and publishing from an uploaded archive."""

    list_display = ["name", "title", "category", "owner", "updated_at"]
    list_filter = ["category"]
    search_fields = ["name", "title", "description"]
    readonly_fields = ["name", "created_at", "updated_at", "compare_versions"]
    inlines = [BundleVersionInline]
    change_list_template = "bundles/admin_changelist.html"

    def get_urls(self):
        own = [
            path("publish/", self.admin_site.admin_view(self.publish_view), name="bundles_bundle_publish"),
            path("<int:pk>/compare/", self.admin_site.admin_view(self.compare_view), name="bundles_bundle_compare"),
        ]
        return own + super().get_urls()

    @admin.display(description="Versions")
    def compare_versions(self, obj):
        versions = list(obj.versions.all()) if obj and obj.pk else []
        if not versions:
            return "No published version."
        listing = format_html_join(", ", "<code>{}</code>", ((v.version,) for v in versions))
        if len(versions) < 2:
            return listing
        url = reverse("admin:bundles_bundle_compare", args=[obj.pk])
        return format_html(
            '{} · <a href="{}?a={}&b={}">Compare the params schema of any two versions</a>',
            listing,
            url,
            versions[1].pk,
            versions[0].pk,
        )

    def compare_view(self, request, pk):
        bundle = get_object_or_404(Bundle, pk=pk)
        if not self.has_view_permission(request, bundle):
            raise PermissionDenied
        versions = list(bundle.versions.all())
        if not versions:
            return redirect("admin:bundles_bundle_change", pk)
        by_pk = {str(v.pk): v for v in versions}
        new = by_pk.get(request.GET.get("b", ""), versions[0])
        old = by_pk.get(request.GET.get("a", ""), versions[1] if len(versions) > 1 else versions[0])
        context = {
            **self.admin_site.each_context(request),
            "bundle": bundle,
            "versions": versions,
            "old": old,
            "new": new,
            "changes": schema_changes(old.params_schema, new.params_schema),
            "unified": unified(old.params_schema, new.params_schema, old.version, new.version),
            "title": f"Compare {bundle.name} versions",
        }
        return TemplateResponse(request, "bundles/admin_diff.html", context)

    def publish_view(self, request):
        if not is_ops(request.user):
            raise PermissionDenied("Only platform ops publish bundle versions.")
        problems: list[str] = []
        if request.method == "POST":
            upload = request.FILES.get("archive")
            if upload is None:
                problems = ["Choose a .tar.gz or .zip of the bundle directory."]
            elif upload.size > UPLOAD_MAX_BYTES:
                problems = [f"{upload.name}: {upload.size} bytes, over the {UPLOAD_MAX_BYTES} byte upload limit"]
            else:
                try:
                    result = bundle_version_publish_archive(
                        data=upload.read(), filename=upload.name, actor=request.user
                    )
                except BundleError as exc:
                    problems = exc.problems
                else:
                    state = "published" if result.created else "already published with these exact files"
                    messages.success(request, f"{result.version} {state}.")
                    return redirect("admin:bundles_bundle_change", result.version.bundle.pk)
        context = {**self.admin_site.each_context(request), "problems": problems, "title": "Publish a version"}
        return TemplateResponse(request, "bundles/admin_upload.html", context, status=400 if problems else 200)

    def changelist_view(self, request, extra_context=None):
        extra = {"publish_url": reverse("admin:bundles_bundle_publish")} if is_ops(request.user) else {}
        return super().changelist_view(request, {**extra, **(extra_context or {})})


@admin.register(BundleVersion)
class BundleVersionAdmin(MadeElsewhere, SimpleHistoryAdmin):
    """Published versions are immutable: everything is read-only here."""

    list_display = ["__str__", "published_at", "published_by", "sha"]
    list_filter = ["bundle"]
    search_fields = ["bundle__name", "version"]
    readonly_fields = [
        *("bundle", "version", "pretty_schema"),
        *BundleVersion.PUBLISHED,
        *("manifest_sha256", "module_variables", "published_at", "published_by"),
    ]
    exclude = ["params_schema"]

    @admin.display(description="sha256")
    def sha(self, obj):
        return obj.module_sha256[:12]

    @admin.display(description="Params schema")
    def pretty_schema(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.params_schema, indent=2))

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)


@admin.register(ResourceType)
class ResourceTypeAdmin(MadeElsewhere, SimpleHistoryAdmin):
    """Resource types are published from their files by ``sync_bundles`` and never change: read-only here."""

    list_display = ["name", "version", "title", "published_at"]
    list_filter = ["name"]
    search_fields = ["name", "title", "description"]
    fields = ["name", "version", "title", "shown_icon", "description", "payload", "sha256", "published_at"]
    readonly_fields = fields

    @admin.display(description="Icon")
    def shown_icon(self, obj):
        # An image of its own (a data: URL), so the SVG's markup never becomes part of the admin's page.
        if not obj.icon:
            return "No icon."
        return format_html(
            '<img alt="" width="32" height="32" src="data:image/svg+xml;base64,{}">',
            b64encode(obj.icon.encode()).decode(),
        )

    @admin.display(description="Payload schema (specs are searchable; data may hold x-sensitive values)")
    def payload(self, obj):
        return format_html(
            "<h4>specs</h4><pre>{}</pre><h4>data</h4><pre>{}</pre>",
            json.dumps(obj.specs_schema, indent=2),
            json.dumps(obj.data_schema, indent=2),
        )
