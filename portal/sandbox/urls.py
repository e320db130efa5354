from django.urls import path, re_path

from . import api, views

app_name = "sandbox"

RESOURCE_ID = r"(?P<resource_id>[A-Za-z0-9-]{1,40})"

urlpatterns = [
    path("", views.console, name="console"),
    re_path(rf"^resources/{RESOURCE_ID}/$", views.resource_detail, name="resource"),
    re_path(rf"^resources/{RESOURCE_ID}/edit/$", views.resource_edit, name="resource-edit"),
    re_path(rf"^resources/{RESOURCE_ID}/delete/$", views.resource_delete, name="resource-delete"),
    re_path(rf"^resources/{RESOURCE_ID}/metrics/$", views.resource_metrics, name="resource-metrics"),
    # The cloud's API (bearer token; see docs/sandbox.md).
    path("api/v1/kinds/", api.kinds, name="api-kinds"),
    path("api/v1/resources/", api.resources, name="api-resources"),
    re_path(rf"^api/v1/resources/{RESOURCE_ID}/$", api.resource, name="api-resource"),
    re_path(rf"^api/v1/resources/{RESOURCE_ID}/metrics/$", api.metrics, name="api-metrics"),
    path("api/v1/events/", api.events, name="api-events"),
    path("api/v1/deliveries/", api.deliveries, name="api-deliveries"),
]
