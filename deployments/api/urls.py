from django.urls import path
from rest_framework.routers import SimpleRouter

from ..costs.api import CostsView
from ..drift.api import DriftCheckViewSet
from ..environments.api import EnvironmentRunViewSet
from ..environments.previews_api import PreviewViewSet
from ..estate.api import BulkChangeViewSet, EstateViewSet
from ..policy.api import ExceptionRequestViewSet
from ..runs.api import RunViewSet
from .views import DeploymentViewSet, EnvironmentViewSet, ProjectViewSet

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("runs", RunViewSet, basename="run")
router.register("environment-runs", EnvironmentRunViewSet, basename="environment-run")
router.register("previews", PreviewViewSet, basename="preview")
router.register("drift-checks", DriftCheckViewSet, basename="drift-check")
router.register("exceptions", ExceptionRequestViewSet, basename="exception")
router.register("estate", EstateViewSet, basename="estate")
router.register("bulk-changes", BulkChangeViewSet, basename="bulk-change")

urlpatterns = [*router.urls, path("costs/", CostsView.as_view(), name="cost-list")]
