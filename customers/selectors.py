from dataclasses import dataclass

from django.db.models import Count, QuerySet

from customers.models import Customer
from interactions.models import Interaction
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


def open_complaints(customer: Customer) -> QuerySet[Interaction]:
    """Complaints and bad touchpoints nobody has recovered yet, oldest first (seeds/002)."""
    return (
        Interaction.objects.filter(customer=customer, valence__lt=0, resolved_on_first_contact=False)
        .filter(resolutions__isnull=True)
        .select_related("staff", "stage")
        .order_by("occurred_at", "id")
    )


def customer_timeline(customer: Customer, *, limit: int = 100) -> QuerySet[Interaction]:
    return (
        Interaction.objects.filter(customer=customer)
        .select_related("stage", "staff", "resolves")
        .order_by("-occurred_at", "-id")[:limit]
    )


def customer_journeys(customer: Customer, *, limit: int = 20) -> QuerySet[Journey]:
    return Journey.objects.filter(customer=customer).order_by("-started_at", "-id")[:limit]
