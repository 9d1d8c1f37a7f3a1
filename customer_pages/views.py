from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from accounts.access import EVERY_ROLE, role_required
from config.forms import show_refusal
from config.paging import page_of
from customer_pages.charts import memory_lane
from customer_pages.forms import DirectoryFilters
from customer_pages.selectors import ScoredFirst, customer_directory, customers_by_memory, overview
from customers.access import can_edit_customer
from customers.forms import CustomerDetailsForm
from customers.models import Customer
from customers.services import customer_update
from interactions.access import can_correct_touchpoint
from interactions.forms import TouchpointForm, channel_defaults_json, complaint_choices
from interactions.models import Channel
from interactions.selectors import (
    customer_journeys,
    customer_timeline,
    journey_stage_keys,
    lane_interactions,
    open_complaints,
)
from journeys.models import JourneyStage
from memory.explain import explain
from memory.models import Band, CustomerMemory, ScoreSnapshot
from memory.services import memory_parameters


@role_required(*EVERY_ROLE)
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "customers/home.html",
        {"overview": overview(), "at_risk": customers_by_memory(band=Band.AT_RISK, limit=20), "bands": Band},
    )


DIRECTORY_PAGE = 50
TIMELINE_PAGE = 50


@role_required(*EVERY_ROLE)
def customer_list(request: HttpRequest) -> HttpResponse:
    """The customer directory: search, filter, sort, page through every customer."""
    form = DirectoryFilters(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    customers = customer_directory(
        text=data.get("q", ""),
        band=data.get("band", ""),
        segment=data.get("segment"),
        owner=data.get("owner"),
        status=data.get("lifecycle") or "all",
        sort=data.get("sort") or "name",
    )
    number = request.GET.get("page")
    if isinstance(customers, ScoredFirst):
        page = Paginator(customers, DIRECTORY_PAGE).get_page(number)
    else:
        page = page_of(customers, number, DIRECTORY_PAGE)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "customers/list.html",
        {"form": form, "page": page, "query": query.urlencode(), "invalid": form.is_bound and not form.is_valid()},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


@role_required(*EVERY_ROLE)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("segment", "owner"), pk=pk)
    memory = CustomerMemory.objects.filter(customer=customer).first()
    journeys = list(customer_journeys(customer))
    stages = list(JourneyStage.objects.all())
    visited = journey_stage_keys([j.pk for j in journeys])
    channel, stage = request.GET.get("channel", ""), request.GET.get("stage", "")
    snapshots = list(
        ScoreSnapshot.objects.filter(customer=customer, day__gte=timezone.now().date() - timedelta(days=365))
        .order_by("day")
        .only("day", "score")
    )
    params = memory_parameters()
    complaints = list(open_complaints(customer))
    timeline = page_of(
        customer_timeline(customer, channel=channel, stage=stage), request.GET.get("page"), TIMELINE_PAGE
    )
    correctable = {i.pk for i in timeline.object_list if can_correct_touchpoint(request.user, i)}
    timeline_query = request.GET.copy()
    timeline_query.pop("page", None)
    return render(
        request,
        "customers/detail.html",
        {
            "customer": customer,
            "memory": memory,
            "explanation": explain(memory, params=params),
            "journeys": [(j, [(s, s.key in visited[j.pk]) for s in stages]) for j in journeys],
            "open_complaints": complaints,
            "timeline": timeline,
            "correctable": correctable,
            "can_edit": can_edit_customer(request.user, customer),
            "outcomes": list(customer.outcomes.select_related("recorded_by")[:20]),
            "timeline_query": timeline_query.urlencode(),
            "lane": memory_lane(
                lane_interactions(customer),
                snapshots,
                peaks={j.peak_interaction_id for j in journeys if j.peak_interaction_id},
                ends={j.end_interaction_id for j in journeys if j.end_interaction_id},
                params=params,
            ),
            "loss_aversion": params.loss_aversion,
            "channels": Channel.choices,
            "stages": stages,
            "filter": {"channel": channel, "stage": stage},
            "form": TouchpointForm(
                initial={"customer": customer.ref}, complaints=complaint_choices(customer, complaints)
            ),
            "preset": customer,
            "channel_defaults": channel_defaults_json(),
        },
    )


@role_required(*EVERY_ROLE)
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Managers, and the staff member who owns the customer, correct what we know of them.
    Every change is in the audit log with who made it and what it was before."""
    customer = get_object_or_404(Customer.objects.select_related("segment", "owner"), pk=pk)
    if not can_edit_customer(request.user, customer):
        raise PermissionDenied
    # The form validates a copy, so a refused edit leaves `customer` as stored.
    form = CustomerDetailsForm(request.POST or None, instance=Customer.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        try:
            if changes:
                customer_update(customer=customer, actor=request.user, **changes)
        except ValidationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, "Details saved." if changes else "Nothing was changed.")
            return redirect("customer-detail", pk=customer.pk)
    return render(
        request,
        "customers/edit.html",
        {"customer": customer, "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


@role_required(*EVERY_ROLE)
def memory_badge(request: HttpRequest, customer_pk: int) -> HttpResponse:
    """The customer's score; polls itself until the memory has caught up with `version`."""
    customer = get_object_or_404(Customer, pk=customer_pk)
    memory = CustomerMemory.objects.filter(customer=customer).first()
    try:
        wanted = int(request.GET.get("version", "0"))
    except ValueError:
        wanted = 0
    ready = memory is not None and memory.history_version >= wanted
    return render(
        request,
        "interactions/_memory_badge.html",
        {"customer": customer, "memory": memory, "ready": ready, "version": wanted},
    )
