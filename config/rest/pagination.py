from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

INVALID_CURSOR = "This cursor is not valid (altered, or from another ordering); start again from the first page."

# Object ids in URLs: digits that fit PostgreSQL's bigint; anything else is a 404.
ID_PATTERN = r"[0-9]{1,18}"


class StrictCursorPagination(CursorPagination):
    """Cursor pages (stable while the table grows); a bad page_size is an error, not ignored."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({"page_size": [f"Give a whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def paginate_queryset(self, queryset: Any, request: Request, view: APIView | None = None) -> Any:
        # A cursor is opaque to clients but not signed: one that was altered must be a 400
        # naming it, not a database error about comparing a float with text.
        try:
            cursor = self.decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if cursor is not None and cursor.position is not None and view is not None:
            self._check_position(queryset, self.get_ordering(request, queryset, view)[0], str(cursor.position))
        return super().paginate_queryset(queryset, request, view)

    def _check_position(self, queryset: QuerySet[Any], ordering: str, position: str) -> None:
        name = ordering.lstrip("-")
        annotation = queryset.query.annotations.get(name)
        try:
            field = annotation.output_field if annotation is not None else queryset.model._meta.get_field(name)
            field.to_python(position)
        except (DjangoValidationError, FieldDoesNotExist, ValueError, TypeError):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if "\x00" in position:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


class NewestFirst(StrictCursorPagination):
    ordering = ("-occurred_at", "-id")


class ById(StrictCursorPagination):
    ordering = ("id",)


class LatestFirst(StrictCursorPagination):
    """Records without a time of their own (runs), the latest created first."""

    ordering = ("-id",)


class JourneysNewestFirst(StrictCursorPagination):
    ordering = ("-started_at", "-id")
