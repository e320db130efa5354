from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render

from .forms import build_fields, render_markdown
from .models import Bundle


@login_required
def catalog(request):
    query = request.GET.get("q", "").strip()
    bundles = (
        Bundle.objects.annotate(
            live=Count("versions__deployments", filter=Q(versions__deployments__status="live"), distinct=True)
        )
        .filter(versions__isnull=False)
        .distinct()
    )
    if query:
        bundles = bundles.filter(Q(name__icontains=query) | Q(title__icontains=query) | Q(description__icontains=query))
    categories: dict[str, list] = {}
    for bundle in bundles.order_by("category", "title"):
        bundle.description_html = render_markdown(bundle.description)
        categories.setdefault(bundle.category or "Other", []).append(bundle)
    return render(request, "bundles/catalog.html", {"categories": categories, "query": query})


@login_required
def bundle_detail(request, name: str):
    bundle = get_object_or_404(Bundle, name=name)
    version = bundle.latest_version()
    fields = build_fields(version.params_schema, version.ui_schema, None) if version else []
    return render(
        request,
        "bundles/detail.html",
        {
            "bundle": bundle,
            "version": version,
            "versions": bundle.versions.all(),
            "fields": fields,
            "description_html": render_markdown(bundle.description),
            "runbook_html": render_markdown(version.runbook) if version else "",
        },
    )
