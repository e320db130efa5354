from django.urls import path

from . import views

app_name = "bundles"
urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("<slug:name>/", views.bundle_detail, name="detail"),
    # The form engine's htmx fragments: re-render after a change, validate one field, add or remove a row.
    path("<slug:name>/<str:version>/form/<str:action>/", views.params_form, name="form"),
]
