from rest_framework.routers import SimpleRouter

from .estate import BulkChangeViewSet, EstateViewSet
from .views import DeploymentViewSet, EnvironmentViewSet, ExceptionRequestViewSet, ProjectViewSet, RunViewSet

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("runs", RunViewSet, basename="run")
router.register("exceptions", ExceptionRequestViewSet, basename="exception")
router.register("estate", EstateViewSet, basename="estate")
router.register("bulk-changes", BulkChangeViewSet, basename="bulk-change")

urlpatterns = router.urls
