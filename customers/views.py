from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from customers.models import Customer
from customers.selectors import customer_journeys, customer_timeline, customers_by_memory, open_complaints, overview
from memory.explain import explain
from memory.models import Band, CustomerMemory


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "customers/home.html",
        {"overview": overview(), "at_risk": customers_by_memory(band=Band.AT_RISK, limit=20), "bands": Band},
    )


@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("segment", "owner"), pk=pk)
    memory = CustomerMemory.objects.filter(customer=customer).first()
    return render(
        request,
        "customers/detail.html",
        {
            "customer": customer,
            "memory": memory,
            "explanation": explain(memory.breakdown if memory else {}),
            "journeys": customer_journeys(customer),
            "open_complaints": open_complaints(customer),
            "timeline": customer_timeline(customer),
        },
    )
