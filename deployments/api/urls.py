from rest_framework.routers import SimpleRouter

from .views import DeploymentViewSet, EnvironmentViewSet, ExceptionRequestViewSet, ProjectViewSet, RunViewSet

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("runs", RunViewSet, basename="run")
router.register("exceptions", ExceptionRequestViewSet, basename="exception")

urlpatterns = router.urls
