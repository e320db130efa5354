"""The API side of "reviewers change nothing"."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .middleware import is_read_only_reviewer


class ReviewersReadOnly(BasePermission):
    message = "Compliance reviewers can read everything and change nothing."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or not is_read_only_reviewer(request.user)
