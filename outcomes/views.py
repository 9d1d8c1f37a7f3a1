from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.access import EVERY_ROLE, MANAGEMENT, role_required
from config.middleware import HtmxHttpRequest
from customers.access import can_edit_customer
from customers.models import Customer
from outcomes.backtest import MIN_CUSTOMERS, MIN_EVENTS
from outcomes.forms import BacktestForm, OutcomeForm
from outcomes.models import BacktestRun
from outcomes.reports import decile_chart, estimate_text, predictor_rows, rolling_rows
from outcomes.services import backtest_run_create, outcome_record
from outcomes.tasks import schedule_backtest

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


@role_required(*MANAGEMENT)
def backtests(request: HttpRequest) -> HttpResponse:
    """Start a backtest (it runs in the background) and find the earlier ones."""
    form = BacktestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = backtest_run_create(
                cutoff=form.cutoff_at(),
                window_days=form.cleaned_data["window_days"],
                rolling=form.cleaned_data["rolling"],
                created_by=request.user if isinstance(request.user, User) else None,
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error({"cutoff": "cutoff"}.get(name, name if name in form.fields else None), errors)
        else:
            schedule_backtest(run)
            return redirect("backtest-detail", pk=run.pk)
    return render(
        request,
        "outcomes/backtests.html",
        {"form": form, "runs": BacktestRun.objects.defer("reports")[:20]},
        status=400 if form.errors else 200,
    )


@role_required(*MANAGEMENT)
def backtest_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One run: its progress while it runs (htmx polls), then the report."""
    run = get_object_or_404(BacktestRun, pk=pk)
    report = run.reports[-1] if run.reports else None
    context = {
        "run": run,
        "report": report,
        "rows": predictor_rows(report) if report else [],
        "precision": estimate_text(report["at_risk_precision"]) if report else "",
        "recall": estimate_text(report["at_risk_recall"]) if report else "",
        "chart": decile_chart(report) if report else None,
        "rolling": rolling_rows(run.reports) if len(run.reports) > 1 else [],
        "minimum": (MIN_CUSTOMERS, MIN_EVENTS),
    }
    template = "outcomes/_backtest_run.html" if request.htmx else "outcomes/backtest.html"
    return render(request, template, context)
