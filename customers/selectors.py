from django.db.models import Q, QuerySet

from customers.models import Customer


def customer_search(text: str, *, limit: int = 12) -> QuerySet[Customer]:
    text = text.strip()
    if len(text) < 2:
        return Customer.objects.none()
    return Customer.objects.filter(Q(name__icontains=text) | Q(ref__istartswith=text)).order_by("name")[:limit]


def lifecycle(value: str, prefix: str = "") -> Q:
    """The customers a lifecycle filter keeps: "current" (not churned), "churned", or all."""
    if value == "current":
        return Q(**{f"{prefix}churned_at__isnull": True})
    if value == "churned":
        return Q(**{f"{prefix}churned_at__isnull": False})
    return Q()
