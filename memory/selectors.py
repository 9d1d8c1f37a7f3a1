from django.db.models import F, Q

from customers.models import Customer


def stale_customer_ids(*, limit: int) -> list[int]:
    """Customers whose memory is behind their interactions (or who have none yet)."""
    return list(
        Customer.objects.filter(
            Q(memory__isnull=True, history_version__gt=0) | Q(history_version__gt=F("memory__history_version"))
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
