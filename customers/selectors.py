from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import overload

from django.contrib.auth.models import User
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.utils import timezone

from config.paging import rows_by_keys
from customers.models import Customer, Segment
from interactions.models import Channel, Interaction
from journeys.models import Journey
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


# NOT EXISTS, not a LEFT JOIN ... IS NULL: PostgreSQL estimates the join as one row and
# reads every complaint; the anti-join lets a LIMIT stop early (730 ms -> 1 ms at 5M).
UNRECOVERED = Q(valence__lt=0, resolved_on_first_contact=False) & ~Exists(
    Interaction.objects.filter(resolves=OuterRef("pk"))
)
COMPLAINT = Q(channel=Channel.COMPLAINT)
BAD_ENDING = Q(pk=F("journey__end_interaction_id"), journey__closed_at__isnull=True)


def waiting_for_recovery() -> QuerySet[Interaction]:
    """Complaints, and bad endings of journeys still open, that nobody has recovered yet:
    the one rule behind the customer page and the dashboard's recovery queue (seeds/002)."""
    return Interaction.objects.filter(COMPLAINT | BAD_ENDING, UNRECOVERED)


def unrecovered_complaints() -> QuerySet[Interaction]:
    """The first half of waiting_for_recovery(), followed by the complaints' own index."""
    return Interaction.objects.filter(COMPLAINT, UNRECOVERED)


def journeys_ending_badly() -> QuerySet[Journey]:
    """The second half, from the journeys' side: open journeys whose ending is bad, not a
    complaint (those are in the first half) and not recovered. PostgreSQL cannot estimate
    "this touchpoint ends its journey" from the touchpoints' side and reads them all; from
    the open journeys, by their last touch, it stops after the first few (600 ms -> 2 ms)."""
    return (
        Journey.objects.filter(
            closed_at__isnull=True, end_interaction__valence__lt=0, end_interaction__resolved_on_first_contact=False
        )
        .exclude(end_interaction__channel=Channel.COMPLAINT)
        .filter(~Exists(Interaction.objects.filter(resolves=OuterRef("end_interaction_id"))))
    )


def open_complaints(customer: Customer) -> QuerySet[Interaction]:
    return (
        waiting_for_recovery().filter(customer=customer).select_related("staff", "stage").order_by("occurred_at", "id")
    )


def customer_timeline(customer: Customer, *, channel: str = "", stage: str = "") -> QuerySet[Interaction]:
    """Newest first, for paging (the timeline index serves any page of it)."""
    queryset = Interaction.objects.filter(customer=customer)
    if channel:
        queryset = queryset.filter(channel=channel)
    if stage:
        queryset = queryset.filter(stage__key=stage)
    return queryset.select_related("stage", "staff", "resolves").order_by("-occurred_at", "-id")


def customer_journeys(customer: Customer, *, limit: int = 20) -> QuerySet[Journey]:
    return Journey.objects.filter(customer=customer).order_by("-started_at", "-id")[:limit]


def customer_search(text: str, *, limit: int = 12) -> QuerySet[Customer]:
    text = text.strip()
    if len(text) < 2:
        return Customer.objects.none()
    return Customer.objects.filter(Q(name__icontains=text) | Q(ref__istartswith=text)).order_by("name")[:limit]


def journey_stage_keys(journey_ids: list[int]) -> dict[int, set[str]]:
    """Which of O'Connell's stages each journey went through (one query)."""
    visited: dict[int, set[str]] = {jid: set() for jid in journey_ids}
    rows = (
        Interaction.objects.filter(journey_id__in=journey_ids)
        .order_by()
        .values_list("journey_id", "stage__key")
        .distinct()
    )
    for journey_id, key in rows:
        visited[journey_id].add(key)
    return visited


def lane_interactions(customer: Customer, *, days: int = 365, limit: int = 400) -> list[Interaction]:
    since = timezone.now() - timedelta(days=days)
    rows = (
        Interaction.objects.filter(customer=customer, occurred_at__gte=since)
        .only("occurred_at", "channel", "valence", "intensity")  # what a dot needs, nothing more
        .order_by("-occurred_at", "-id")
    )
    return list(reversed(rows[:limit]))


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


def lifecycle(value: str, prefix: str = "") -> Q:
    """The customers a lifecycle filter keeps: "current" (not churned), "churned", or all."""
    if value == "current":
        return Q(**{f"{prefix}churned_at__isnull": True})
    if value == "churned":
        return Q(**{f"{prefix}churned_at__isnull": False})
    return Q()


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
