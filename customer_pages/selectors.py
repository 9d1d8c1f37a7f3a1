from collections.abc import Iterator
from dataclasses import dataclass
from typing import overload

from django.contrib.auth.models import User
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import OrderBy

from config.paging import rows_by_keys
from customers.models import Customer, Segment
from customers.selectors import lifecycle
from interactions.models import Interaction
from memory.models import Band, CustomerMemory


@dataclass(frozen=True)
class Overview:
    customers: int
    interactions: int
    bands: dict[str, int]


def overview() -> Overview:
    bands = {band: 0 for band in Band.values}
    for row in CustomerMemory.objects.values("band").annotate(n=Count("pk")):
        bands[row["band"]] = row["n"]
    return Overview(customers=Customer.objects.count(), interactions=Interaction.objects.count(), bands=bands)


def customers_by_memory(*, band: str | None = None, limit: int = 25) -> QuerySet[Customer]:
    """Customers with the weakest memories first (those most worth a call)."""
    queryset = Customer.objects.select_related("memory", "owner", "segment").filter(memory__isnull=False)
    if band:
        queryset = queryset.filter(memory__band=band)
    return queryset.order_by("memory__score", "id")[:limit]


DIRECTORY_COLUMNS = (
    "ref",
    "churned_at",
    "name",
    "email",
    "company",
    "segment__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
    "memory__score",
    "memory__band",
    "memory__trend_30d",
    "memory__last_interaction_at",
)

# Each memory sort matches an index on the memory table (score, customer) and so on, read
# forwards or backwards, so a page stops after its rows instead of sorting everyone.
MEMORY_ORDER: dict[str, tuple[str | OrderBy, ...]] = {
    "score": ("memory__score", "id"),
    "-score": ("-memory__score", "-id"),
    "last_touch": (F("memory__last_interaction_at").desc(nulls_last=True), "-id"),
    "trend": ("memory__trend_30d", "id"),
}

NAME_ORDER: tuple[str, ...] = ("name", "id")


class ScoredFirst:
    """Customers with a memory in a memory order, then those not scored yet by name: what a
    sortable table does with empty cells, as one sequence a Paginator can page. Plain
    queries each served by an index (the memory sort index, the customers, the memory
    table's key), instead of one sort over a join of every customer with the wide memory
    rows (190 ms -> about 50 ms for a page at 100k customers, bench/pages.py)."""

    def __init__(self, customers: QuerySet[Customer], order: tuple[str | OrderBy, ...]) -> None:
        scored = Exists(CustomerMemory.objects.filter(customer=OuterRef("pk")))
        self.everyone = customers
        self.scored = customers.filter(memory__isnull=False).order_by(*order)
        # No join with the memory rows: the anti-join reads only the memory table's key.
        self.unscored = customers.select_related("segment", "owner").filter(~scored).order_by(*NAME_ORDER)
        self._split: int | None = None
        self._count: int | None = None

    def split(self) -> int:
        """How many customers have a memory: where the unscored ones begin."""
        if self._split is None:
            self._split = self.count() - self.unscored.count()
        return self._split

    def count(self) -> int:
        if self._count is None:  # asked by the Paginator and by split(): one query
            self._count = self.everyone.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Customer]:
        yield from self.scored.iterator()
        yield from self.unscored.iterator()

    @overload
    def __getitem__(self, window: int) -> Customer: ...
    @overload
    def __getitem__(self, window: slice) -> list[Customer]: ...
    def __getitem__(self, window: int | slice) -> Customer | list[Customer]:
        if isinstance(window, int):
            return self[window : window + 1][0]
        start, split = window.start or 0, self.split()
        stop = self.count() if window.stop is None else window.stop
        rows = rows_by_keys(self.scored, start, min(stop, split)) if start < split else []
        if stop > split:
            rows += rows_by_keys(self.unscored, max(start - split, 0), stop - split)
        return rows


def customer_directory(
    *,
    text: str = "",
    band: str = "",
    segment: Segment | None = None,
    owner: User | None = None,
    status: str = "all",
    sort: str = "name",
) -> QuerySet[Customer] | ScoredFirst:
    """Every customer, searched by name, reference, e-mail or company (any part of them,
    served by trigram indexes on PostgreSQL), narrowed by band, segment and owner, in the
    order asked for. Sorted by a memory figure, customers not scored yet come last."""
    customers = Customer.objects.select_related("memory", "segment", "owner").only(*DIRECTORY_COLUMNS)
    text = text.strip()
    if text:
        customers = customers.filter(
            Q(name__icontains=text) | Q(ref__icontains=text) | Q(email__icontains=text) | Q(company__icontains=text)
        )
    if segment is not None:
        customers = customers.filter(segment=segment)
    if owner is not None:
        customers = customers.filter(owner=owner)
    customers = customers.filter(lifecycle(status))
    if band:
        # A band is a memory figure: customers not scored yet have none.
        return customers.filter(memory__band=band).order_by(*MEMORY_ORDER.get(sort, NAME_ORDER))
    if sort not in MEMORY_ORDER:
        return customers.order_by(*NAME_ORDER)
    return ScoredFirst(customers, MEMORY_ORDER[sort])
