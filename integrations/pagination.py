from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    """Stable pages over a table that keeps growing: new rows never shift a page."""

    ordering = ("-occurred_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ById(CursorPagination):
    ordering = ("id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class JourneysNewestFirst(NewestFirst):
    ordering = ("-started_at", "-id")
