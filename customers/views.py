from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from customers.selectors import customers_by_memory, overview
from memory.models import Band


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "customers/home.html",
        {"overview": overview(), "at_risk": customers_by_memory(band=Band.AT_RISK, limit=20), "bands": Band},
    )
