from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from customers.models import Customer
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


def waiting_for_recovery() -> QuerySet[Interaction]:
    """Complaints, and bad endings of journeys still open, that nobody has recovered yet:
    the one rule behind the customer page and the dashboard's recovery queue (seeds/002)."""
    complaint_or_bad_ending = Q(channel=Channel.COMPLAINT) | Q(
        pk=F("journey__end_interaction_id"), journey__closed_at__isnull=True
    )
    return Interaction.objects.filter(
        complaint_or_bad_ending, valence__lt=0, resolved_on_first_contact=False, resolutions__isnull=True
    )


def open_complaints(customer: Customer) -> QuerySet[Interaction]:
    return (
        waiting_for_recovery().filter(customer=customer).select_related("staff", "stage").order_by("occurred_at", "id")
    )


def customer_timeline(
    customer: Customer, *, channel: str = "", stage: str = "", limit: int = 100
) -> QuerySet[Interaction]:
    queryset = Interaction.objects.filter(customer=customer)
    if channel:
        queryset = queryset.filter(channel=channel)
    if stage:
        queryset = queryset.filter(stage__key=stage)
    return queryset.select_related("stage", "staff", "resolves").order_by("-occurred_at", "-id")[:limit]


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
