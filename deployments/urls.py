from django.urls import path

from . import views
from .connections import views as connections
from .costs import views as costs
from .drift import views as drift
from .environments import promote_views
from .environments import views as environments
from .estate import views as estate
from .policy import views as policy
from .runs import views as runs

app_name = "deployments"
urlpatterns = [
    path("", views.deployment_list, name="list"),
    path("new/<slug:bundle_name>/", views.deployment_new, name="new"),
    path("<uuid:pk>/", views.deployment_detail, name="detail"),
    path("<uuid:pk>/edit/", views.deployment_edit, name="edit"),
    path("<uuid:pk>/destroy/", views.deployment_destroy, name="destroy"),
    path("<uuid:pk>/apply/", views.deployment_apply, name="apply"),
    path("<uuid:pk>/redeploy/", views.deployment_redeploy, name="redeploy"),
    path("<uuid:pk>/live/", drift.deployment_live, name="live"),
    path("<uuid:pk>/drift/check/", drift.drift_check_now, name="drift-check-now"),
    path("drift/<int:pk>/", drift.drift_check_detail, name="drift-check"),
    path("drift/<int:pk>/revert/", drift.drift_revert, name="drift-revert"),
    path("drift/<int:pk>/accept/", drift.drift_accept, name="drift-accept"),
    path("environments/<int:pk>/canvas/", connections.environment_canvas_page, name="canvas"),
    path("environments/<int:pk>/canvas/connect/", connections.canvas_connect, name="canvas-connect"),
    path("environments/<int:pk>/deploy/", environments.environment_deploy, name="env-deploy"),
    path("environments/<int:pk>/teardown/", environments.environment_teardown, name="env-teardown"),
    path("environments/<int:pk>/compare/", environments.environment_compare, name="env-compare"),
    path("environments/<int:pk>/fork/", environments.environment_fork_page, name="env-fork"),
    path("environments/<int:pk>/promote/", promote_views.environment_promote_page, name="env-promote"),
    path("environment-runs/<int:pk>/", environments.env_run_detail, name="env-run"),
    path("environment-runs/<int:pk>/cancel/", environments.env_run_cancel, name="env-run-cancel"),
    path("runs/<int:pk>/", runs.run_detail, name="run"),
    path("runs/<int:pk>/logs/", runs.run_logs, name="run-logs"),
    path("runs/<int:pk>/cancel/", runs.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/apply/", runs.run_apply, name="run-apply"),
    path("<uuid:pk>/unlock/", views.deployment_force_unlock, name="force-unlock"),
    path("runs/<int:pk>/decide/", policy.run_decide, name="run-decide"),
    path("exceptions/", policy.exception_queue, name="exceptions"),
    path("exceptions/<int:pk>/", policy.exception_detail, name="exception"),
    path("exceptions/<int:pk>/decide/", policy.exception_decide, name="exception-decide"),
    path("<uuid:pk>/outputs/<str:name>/reveal/", views.output_reveal, name="reveal"),
    path("<uuid:pk>/artifacts/<str:name>/reveal/", connections.artifact_reveal, name="artifact-reveal"),
    path("costs/", costs.costs_page, name="costs"),
    path("estate/", estate.estate, name="estate"),
    path("estate/suggest/", estate.estate_suggest, name="estate-suggest"),
    path("estate/dimensions/", estate.estate_dimensions, name="estate-dimensions"),
    path("estate/saved/", estate.saved_query_save, name="estate-saved-save"),
    path("estate/saved/<int:pk>/delete/", estate.saved_query_delete, name="estate-saved-delete"),
    path("bulk/", estate.bulk_list, name="bulk-list"),
    path("bulk/new/", estate.bulk_new, name="bulk-new"),
    path("bulk/upgrade/<int:version_pk>/", estate.bulk_upgrade, name="bulk-upgrade"),
    path("bulk/<int:pk>/", estate.bulk_detail, name="bulk"),
    path("bulk/<int:pk>/action/", estate.bulk_action, name="bulk-action"),
]
