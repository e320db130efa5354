from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    AuditEventViewSet,
    EstateAsOfView,
    deployment_history_view,
    deployment_restore_view,
    estate_diff_view,
)

router = SimpleRouter()
router.register("audit/events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("audit/diff/", estate_diff_view, name="audit-diff"),
    path("audit/as-of/", EstateAsOfView.as_view(), name="audit-as-of"),
    path("deployments/<uuid:pk>/history/", deployment_history_view, name="deployment-history"),
    path("deployments/<uuid:pk>/restore/", deployment_restore_view, name="deployment-restore"),
    *router.urls,
]
