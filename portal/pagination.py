"""The API's one pagination: ``?limit=&offset=``, bounded and strict.

Kept apart from portal.api, which imports drf-spectacular: DRF imports the pagination class
while it is itself still loading, and that import must not come back into DRF.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """Bounded so that no request asks the database for an impossible slice (a 500, not an answer), and
    strict: ``offset=null`` or ``limit=-1`` is a 400 naming the parameter, not silently the first page."""

    max_limit = 1000
    max_offset = 2**31

    def _strict(self, request, name: str, low: int, high: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
            raise ValidationError({name: [f"Must be a whole number from {low} to {high}."]})
        return int(raw)

    def get_limit(self, request):
        limit = self._strict(request, self.limit_query_param, 1, self.max_limit)
        return self.default_limit if limit is None else limit

    def get_offset(self, request):
        return self._strict(request, self.offset_query_param, 0, self.max_offset) or 0

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, self.max_offset)}
        for parameter in parameters:
            low, high = bounds.get(parameter["name"], (None, None))
            if low is not None:
                parameter["schema"] = {"type": "integer", "minimum": low, "maximum": high}
        return parameters


class KeysFirst:
    """A page's rows in two reads, for :class:`django.core.paginator.Paginator` on the pages: the page's
    primary keys (along the order's index, so the offset skips index entries, not joined rows), then those
    rows with their relations. Page 1,000 of a list joined 50,000 rows to throw 49,950 away (issue 18)."""

    def __init__(self, queryset):
        self.queryset = queryset

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list:
        keys = list(self.queryset.values_list("pk", flat=True)[window])
        rows = {row.pk: row for row in self.queryset.filter(pk__in=keys)} if keys else {}
        return [rows[key] for key in keys if key in rows]
