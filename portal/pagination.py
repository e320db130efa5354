"""The API's one pagination: ``?limit=&offset=``, bounded.

Kept apart from portal.api, which imports drf-spectacular: DRF imports the pagination class
while it is itself still loading, and that import must not come back into DRF.
"""

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """Bounded so that no request asks the database for an impossible slice (a 500, not an answer)."""

    max_limit = 1000
    max_offset = 2**31

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)
