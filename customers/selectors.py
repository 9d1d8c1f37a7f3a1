from dataclasses import dataclass

from django.db.models import Count, QuerySet

from customers.models import Customer
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
