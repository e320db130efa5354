from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.timeline_view, name="timeline"),
    path("events/<int:pk>/", views.event_detail, name="event"),
    path("config/<slug:model>/<int:history_id>/", views.config_detail, name="config"),
    path("as-of/", views.as_of_view, name="as-of"),
    path("diff/", views.diff_view, name="diff"),
    path("deployments/<uuid:pk>/history/", views.deployment_history_view, name="deployment-history"),
    path(
        "deployments/<uuid:pk>/history/<int:history_id>/restore/",
        views.deployment_restore,
        name="deployment-restore",
    ),
]
