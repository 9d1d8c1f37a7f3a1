import secrets
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.access import EVERY_ROLE, role_required
from accounts.roles import ADMINISTRATORS
from config.forms import show_refusal
from config.middleware import HtmxHttpRequest
from customers.models import Customer
from customers.selectors import customer_search
from customers.services import customer_create
from interactions.access import can_correct_touchpoint
from interactions.forms import (
    CorrectionForm,
    DeletionForm,
    ImportForm,
    TouchpointForm,
    channel_defaults_json,
    complaint_choices,
)
from interactions.imports import ImportFormatError, check_size, import_job_create
from interactions.models import ImportJob, ImportKind, Interaction
from interactions.services import interaction_change, interaction_delete
from interactions.tasks import schedule_import

SHOWN_ERRORS = 200


def _find_customer(text: str) -> Customer | None:
    return Customer.objects.filter(ref=text.strip()).first()


@role_required(*EVERY_ROLE)
def log_touchpoint(request: HtmxHttpRequest, customer_pk: int | None = None) -> HttpResponse:
    """The staff's logging form; with htmx it answers with a fragment, without it redirects."""
    preset = get_object_or_404(Customer, pk=customer_pk) if customer_pk else None
    if request.method != "POST":
        form = TouchpointForm(initial={"customer": preset.ref if preset else ""}, complaints=complaint_choices(preset))
        return _render_form(request, form, preset)

    customer = _find_customer(request.POST.get("customer", ""))
    form = TouchpointForm(request.POST, complaints=complaint_choices(customer))
    if not form.is_valid():
        return _render_form(request, form, preset, status=400)
    data = form.cleaned_data
    if customer is None and not data["new_customer_name"].strip():
        form.add_error("customer", "No customer has this reference: pick one from the list, or give a name below.")
        return _render_form(request, form, preset, status=400)
    assert isinstance(request.user, User)  # noqa: S101 - role_required lets only signed-in users through
    try:
        # A new customer and their first touchpoint are stored together or not at all.
        with transaction.atomic():
            if customer is None:
                customer = customer_create(ref=f"WEB-{secrets.token_hex(4).upper()}", name=data["new_customer_name"])
            result = form.record(customer=customer, staff=request.user)
    except ValidationError as exc:
        show_refusal(form, exc)
        return _render_form(request, form, preset, status=400)
    version = Customer.objects.values_list("history_version", flat=True).get(pk=customer.pk)
    if not request.htmx:
        return redirect("customer-detail", pk=customer.pk)
    fresh = TouchpointForm(initial={"customer": preset.ref if preset else ""}, complaints=complaint_choices(preset))
    return render(
        request,
        "interactions/_logged.html",
        {
            "interaction": result.interaction,
            "created": result.created,
            "customer": customer,
            "version": version,
            "form": fresh,
            "preset": preset,
            "channel_defaults": channel_defaults_json(),
        },
    )


def _render_form(
    request: HtmxHttpRequest, form: TouchpointForm, preset: Customer | None, status: int = 200
) -> HttpResponse:
    template = "interactions/_area.html" if request.htmx else "interactions/log.html"
    return render(
        request,
        template,
        {"form": form, "preset": preset, "channel_defaults": channel_defaults_json()},
        status=status,
    )


@role_required(*EVERY_ROLE)
def customer_options(request: HttpRequest) -> HttpResponse:
    """Autocomplete: <option>s of customers whose name or reference matches."""
    return render(
        request, "interactions/_customer_options.html", {"customers": customer_search(request.GET.get("customer", ""))}
    )


@role_required(*EVERY_ROLE)
def complaint_options(request: HttpRequest) -> HttpResponse:
    """The chosen customer's complaints still waiting for recovery, as <option>s."""
    customer = _find_customer(request.GET.get("customer", ""))
    return render(request, "interactions/_complaint_options.html", {"complaints": complaint_choices(customer)})


def upload_page(
    request: HttpRequest,
    *,
    kind: ImportKind,
    template: str,
    create: Callable[..., ImportJob],
    schedule: Callable[[ImportJob], None],
) -> HttpResponse:
    """An import page: the file is checked whole by `create`, then imported in the
    background by the task `schedule` queues; the job's page shows progress and outcome."""
    problem = ""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            check_size(upload.size)
            job = create(created_by=request.user, filename=upload.name, raw=upload.read())
        except ImportFormatError as exc:
            problem = str(exc)
        else:
            schedule(job)
            return redirect("import-detail", job.pk)
    refused = request.method == "POST" and (problem or not form.is_valid())
    return render(
        request,
        template,
        {
            "form": form,
            "problem": problem,
            "jobs": ImportJob.objects.filter(kind=kind).defer("content")[:10],
            "max_mb": settings.IMPORT_MAX_BYTES // (1024 * 1024),
            "max_rows": f"{settings.IMPORT_MAX_ROWS:,}",
        },
        status=400 if refused else 200,
    )


@role_required(ADMINISTRATORS)
def import_upload(request: HttpRequest) -> HttpResponse:
    """Administrators upload history from another system."""
    return upload_page(
        request,
        kind=ImportKind.TOUCHPOINTS,
        template="interactions/import.html",
        create=import_job_create,
        schedule=schedule_import,
    )


@role_required(ADMINISTRATORS)
def import_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One import's progress (polled by htmx while it runs) and its outcome."""
    job = get_object_or_404(ImportJob.objects.defer("content"), pk=pk)
    template = "interactions/_import_job.html" if request.htmx else "interactions/import_job.html"
    return render(request, template, {"job": job, "shown_errors": SHOWN_ERRORS})


def _correctable(request: HttpRequest, pk: int) -> Interaction:
    interaction = get_object_or_404(Interaction.objects.select_related("customer", "stage", "staff"), pk=pk)
    if not can_correct_touchpoint(request.user, interaction):
        raise PermissionDenied
    return interaction


def _timeline_of(interaction: Interaction) -> str:
    return reverse("customer-detail", args=[interaction.customer_id]) + "#timeline"


@role_required(*EVERY_ROLE)
def touchpoint_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """Set right what was logged (the person who logged it, within a day, or a manager),
    with a reason kept in the audit log; the customer's memory is recomputed from history."""
    interaction = _correctable(request, pk)
    # The form validates a copy, so a refused correction leaves nothing half-changed.
    form = CorrectionForm(request.POST or None, instance=Interaction.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        try:
            if changes:
                interaction_change(
                    interaction=interaction, actor=request.user, reason=form.cleaned_data["reason"], **changes
                )
        except ValidationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(
                request,
                "Touchpoint corrected; the memory score is recomputed from the corrected history."
                if changes
                else "Nothing was changed.",
            )
            return redirect(_timeline_of(interaction))
    return render(
        request,
        "interactions/correct.html",
        {"interaction": interaction, "form": form, "delete_form": DeletionForm()},
        status=400 if form.is_bound and form.errors else 200,
    )


@role_required(*EVERY_ROLE)
def touchpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a touchpoint that should never have been logged, with a reason."""
    interaction = _correctable(request, pk)
    if request.method != "POST":
        return redirect("touchpoint-correct", pk=pk)
    form = DeletionForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "interactions/correct.html",
            {"interaction": interaction, "form": CorrectionForm(instance=interaction), "delete_form": form},
            status=400,
        )
    target = _timeline_of(interaction)
    interaction_delete(interaction=interaction, actor=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, "Touchpoint deleted; the memory score is recomputed without it.")
    return redirect(target)
