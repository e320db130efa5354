from django.urls import path

from . import views

app_name = "bundles"
urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("<slug:name>/", views.bundle_detail, name="detail"),
]
