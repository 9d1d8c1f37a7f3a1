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


# Lived and remembered differ visibly from this many points on.
DIVERGENCE_POINTS = 10.0


def remembered_worse_than_lived(prefix: str = "") -> Q:
    """Customers whose memory score is at least DIVERGENCE_POINTS below what they lived
    through on average: where peaks and endings, not the average, decide. `prefix` leads
    from the queried model to the customer (e.g. "customer__")."""
    return Q(**{f"{prefix}memory__lived_score__isnull": False}) & Q(
        **{f"{prefix}memory__score__lt": F(f"{prefix}memory__lived_score") - DIVERGENCE_POINTS}
    )
