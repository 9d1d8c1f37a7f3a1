"""Pages of long lists that cost the same on page 1,000 as on page 1 (almost).

A plain OFFSET over a query with joins does every join for every skipped row. Reading a
page in two steps, first the keys of its rows (the skipped rows walk only an index), then
those rows with their joins, keeps the joins to the rows shown."""

from collections.abc import Sequence
from typing import TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def rows_by_keys(queryset: QuerySet[M], start: int, stop: int) -> list[M]:
    """Rows start..stop of an ordered queryset, read keys first."""
    keys: Sequence[object] = list(queryset.values_list("pk", flat=True)[start:stop])
    found = queryset.order_by().in_bulk(keys)
    return [found[key] for key in keys if key in found]


def page_of(queryset: QuerySet[M], number: str | int | None, per_page: int) -> Page:
    """Django's page `number` (out of range: the nearest page) of an ordered queryset."""
    paginator = Paginator(queryset.values_list("pk", flat=True), per_page)
    page = paginator.get_page(number)
    found = queryset.order_by().in_bulk(list(page.object_list))
    page.object_list = [found[key] for key in page.object_list if key in found]
    return page
