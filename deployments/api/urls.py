from rest_framework.routers import SimpleRouter

from .views import DeploymentViewSet, EnvironmentViewSet, ProjectViewSet, RunViewSet

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("runs", RunViewSet, basename="run")

urlpatterns = router.urls
