from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

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
    rows = Interaction.objects.filter(journey_id__in=journey_ids).values_list("journey_id", "stage__key").distinct()
    for journey_id, key in rows:
        visited[journey_id].add(key)
    return visited


def lane_interactions(customer: Customer, *, days: int = 365, limit: int = 400) -> list[Interaction]:
    since = timezone.now() - timedelta(days=days)
    rows = Interaction.objects.filter(customer=customer, occurred_at__gte=since).order_by("-occurred_at", "-id")
    return list(reversed(rows[:limit]))


DIRECTORY_ORDER = {
    "name": ("name", "id"),
    "score": ("memory_score", "id"),
    "-score": ("-memory_score", "id"),
    "last_touch": ("-memory__last_interaction_at", "id"),
    "trend": ("memory__trend_30d", "id"),
}


def customer_directory(
    *, text: str = "", band: str = "", segment: Segment | None = None, owner: User | None = None, sort: str = "name"
) -> QuerySet[Customer]:
    """Every customer, searched by name, reference, e-mail or company (any part of them),
    narrowed by band, segment and owner, in the order asked for. Customers not scored yet
    sort as neutral (50)."""
    customers = (
        Customer.objects.select_related("memory", "segment", "owner")
        .defer("memory__state", "memory__breakdown")
        .annotate(memory_score=Coalesce("memory__score", Value(50.0)))
    )
    text = text.strip()
    if text:
        customers = customers.filter(
            Q(name__icontains=text) | Q(ref__icontains=text) | Q(email__icontains=text) | Q(company__icontains=text)
        )
    if band:
        customers = customers.filter(memory__band=band)
    if segment is not None:
        customers = customers.filter(segment=segment)
    if owner is not None:
        customers = customers.filter(owner=owner)
    return customers.order_by(*DIRECTORY_ORDER.get(sort, DIRECTORY_ORDER["name"]))
