from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

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


class JourneysNewestFirst(StrictCursorPagination):
    ordering = ("-started_at", "-id")
