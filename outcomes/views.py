from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.access import EVERY_ROLE, role_required
from customers.access import can_edit_customer
from customers.models import Customer
from outcomes.forms import OutcomeForm
from outcomes.services import outcome_record

WEB_SOURCE = "web"


@role_required(*EVERY_ROLE)
def outcome_new(request: HttpRequest, customer_pk: int) -> HttpResponse:
    """Record a renewal, expansion, downgrade or churn (managers and the customer's owner)."""
    customer = get_object_or_404(Customer, pk=customer_pk)
    if not can_edit_customer(request.user, customer):
        raise PermissionDenied
    form = OutcomeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        assert isinstance(request.user, User)  # noqa: S101 - role_required lets only signed-in users through
        result = outcome_record(
            customer=customer,
            recorded_by=request.user,
            kind=form.cleaned_data["kind"],
            occurred_at=form.occurred_at(),
            note=form.cleaned_data["note"],
            source=WEB_SOURCE,
            external_id=str(form.cleaned_data["key"]),
        )
        if result.status == "error":
            for name, errors in result.errors.items():
                form.add_error({"occurred_at": "occurred_on"}.get(name, name if name in form.fields else None), errors)
        else:
            messages.success(request, f"Recorded: {result.outcome}.")
            return redirect(reverse("customer-detail", args=[customer.pk]) + "#outcomes")
    return render(
        request, "outcomes/new.html", {"customer": customer, "form": form}, status=400 if form.errors else 200
    )
