from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.access import EVERY_ROLE, MANAGEMENT, role_required
from accounts.roles import ADMINISTRATORS, has_role
from config.forms import show_refusal
from config.middleware import HtmxHttpRequest
from customers.access import can_edit_customer
from customers.models import Customer
from interactions.models import ImportKind
from interactions.views import upload_page
from memory.engine import PARAMETER_LIMITS, MemoryParameters, parameter_label
from memory.models import Band, ScoringVersion, VersionStatus
from memory.services import (
    memory_parameters,
    scoring_version_apply,
    scoring_version_discard,
    scoring_version_draft,
    scoring_version_previous,
    scoring_version_rollback,
    scoring_version_update,
)
from memory.tasks import schedule_scoring_version_apply
from outcomes.backtest import MEMORY, MIN_CUSTOMERS, MIN_EVENTS
from outcomes.forms import BacktestForm, OutcomeForm, ReasonForm, VersionForm
from outcomes.imports import outcome_import_create
from outcomes.models import BacktestRun
from outcomes.reports import decile_chart, estimate_text, predictor_rows, rolling_rows
from outcomes.services import PREVIEW_SAMPLE, backtest_run_create, outcome_record, version_preview_create
from outcomes.tasks import schedule_backtest, schedule_outcome_import, schedule_preview

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


@role_required(ADMINISTRATORS)
def outcome_import(request: HttpRequest) -> HttpResponse:
    """Administrators upload outcomes from a CRM export (renewals, churn, ...)."""
    return upload_page(
        request,
        kind=ImportKind.OUTCOMES,
        template="outcomes/import.html",
        create=outcome_import_create,
        schedule=schedule_outcome_import,
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


# -- the scoring model's versions -----------------------------------------------------------
# Managers and administrators read them (and their previews and backtests); only
# administrators change the model.


def _administrator(request: HttpRequest) -> User:
    if not has_role(request.user, ADMINISTRATORS) or not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _say_refusal(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


@role_required(*MANAGEMENT)
def model_versions(request: HttpRequest) -> HttpResponse:
    """The version in force, the drafts and the history; administrators start a draft."""
    if request.method == "POST":
        draft = scoring_version_draft(actor=_administrator(request))
        messages.success(request, f"Draft {draft.number} made from the version in force: change what you need.")
        return redirect("model-version-edit", number=draft.number)
    in_force = ScoringVersion.objects.filter(status=VersionStatus.ACTIVE).first()
    params = memory_parameters()
    return render(
        request,
        "outcomes/model.html",
        {
            "in_force": in_force,
            "rows": [(parameter_label(name), value) for name, value in params.as_dict().items()],
            "versions": ScoringVersion.objects.select_related("created_by", "applied_by")[:100],
            "previous": scoring_version_previous(),
            "busy": ScoringVersion.objects.exclude(apply_phase="").first(),
            "can_change": has_role(request.user, ADMINISTRATORS),
            "rollback_form": ReasonForm(prefix="rollback"),
        },
    )


@role_required(ADMINISTRATORS)
def model_version_edit(request: HttpRequest, number: int) -> HttpResponse:
    version = get_object_or_404(ScoringVersion, number=number)
    if version.status != VersionStatus.DRAFT:
        messages.error(request, f"Version {number} is not a draft any more: make a new draft to change the model.")
        return redirect("model-version", number=number)
    form = VersionForm(request.POST or None, version=version)
    if request.method == "POST" and form.is_valid():
        try:
            scoring_version_update(
                version=version,
                actor=_administrator(request),
                parameters=form.parameters(),
                channel_intensities=form.intensities(),
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, f"Draft {number} saved. Preview it on the real data before applying it.")
            return redirect("model-version", number=number)
    return render(
        request, "outcomes/model_edit.html", {"version": version, "form": form}, status=400 if form.errors else 200
    )


def _bands(whatif: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (label, _share_text(whatif["bands_before"][band]), _share_text(whatif["bands_after"][band]))
        for band, label in Band.choices
    ]


def _share_text(share: dict[str, Any]) -> str:
    if share["value"] is None:
        return "-"
    text = f"{100 * share['value']:.1f}%"
    if share["low"] != share["high"]:
        text += f" ({100 * share['low']:.1f} to {100 * share['high']:.1f})"
    return text


def _histogram_rows(whatif: dict[str, Any]) -> list[tuple[str, int, int]]:
    width = 100 // len(whatif["histogram_before"])
    return [
        (f"{i * width}-{(i + 1) * width}", before, after)
        for i, (before, after) in enumerate(zip(whatif["histogram_before"], whatif["histogram_after"], strict=True))
    ]


def _movers(whatif: dict[str, Any]) -> list[dict[str, Any]]:
    customers = Customer.objects.in_bulk([m["customer_id"] for m in whatif["movers"]])
    rows = []
    for mover in whatif["movers"]:
        causes = [
            f"{parameter_label(c['parameter'])} {c['before']:g} → {c['after']:g}: {c['points']:+.1f}"
            for c in mover["causes"]
            if abs(c["points"]) >= 0.05
        ]
        rows.append(
            {
                **mover,
                "customer": customers.get(mover["customer_id"]),
                "causes_text": causes,
                "band_before_label": Band(mover["band_before"]).label.lower(),
                "band_after_label": Band(mover["band_after"]).label.lower(),
            }
        )
    return rows


def _memory_result(report: dict[str, Any] | None) -> dict[str, str]:
    if not report:
        return {}
    memory = next(p for p in report["predictors"] if p["name"] == MEMORY)
    return {
        "auc": estimate_text(memory["churn_auc"]),
        "spearman": estimate_text(memory["spearman_survey"]),
        "brier": estimate_text(memory["brier"], digits=3),
        "precision": estimate_text(report["at_risk_precision"]),
        "recall": estimate_text(report["at_risk_recall"]),
    }


@role_required(*MANAGEMENT)
def model_version(request: HtmxHttpRequest, number: int) -> HttpResponse:
    """One version: its numbers beside the ones in force, its preview on the real data, and
    (for an administrator) the buttons that preview, apply or discard it."""
    version = get_object_or_404(ScoringVersion.objects.select_related("created_by", "applied_by"), number=number)
    in_force = memory_parameters().as_dict()
    mine = MemoryParameters.from_mapping(version.parameters).as_dict()
    preview = version.previews.first()
    whatif = preview.whatif if preview and preview.whatif else None
    backtests = preview.backtests if preview else {}
    context = {
        "version": version,
        "rows": [(parameter_label(n), in_force[n], mine[n], in_force[n] != mine[n]) for n in PARAMETER_LIMITS],
        "intensities": sorted(version.channel_intensities.items()),
        "preview": preview,
        "whatif": whatif,
        "bands": _bands(whatif) if whatif else [],
        "changed_band": _share_text(whatif["changed_band"]) if whatif else "",
        "histogram": _histogram_rows(whatif) if whatif else [],
        "movers": _movers(whatif) if whatif else [],
        "changed": [parameter_label(n) for n in (whatif or {}).get("changed_parameters", [])],
        "current_backtest": _memory_result(backtests.get("current")),
        "draft_backtest": _memory_result(backtests.get("draft")),
        "backtest_report": backtests.get("draft"),
        "can_change": has_role(request.user, ADMINISTRATORS),
        "apply_form": ReasonForm(prefix="apply"),
        "previous": scoring_version_previous(),
        "minimum": (MIN_CUSTOMERS, MIN_EVENTS),
        "sample": PREVIEW_SAMPLE,
    }
    template = "outcomes/_model_live.html" if request.htmx else "outcomes/model_version.html"
    return render(request, template, context)


@require_POST
@role_required(ADMINISTRATORS)
def model_version_preview(request: HttpRequest, number: int) -> HttpResponse:
    version = get_object_or_404(ScoringVersion, number=number)
    preview = version_preview_create(version=version, created_by=_administrator(request))
    schedule_preview(preview)
    return redirect(reverse("model-version", args=[number]) + "#preview")


@require_POST
@role_required(ADMINISTRATORS)
def model_version_apply(request: HttpRequest, number: int) -> HttpResponse:
    version = get_object_or_404(ScoringVersion, number=number)
    form = ReasonForm(request.POST, prefix="apply")
    try:
        if not form.is_valid():
            raise ValidationError({"reason": form.errors.get("reason", ["Say why."])})
        version = scoring_version_apply(
            version=version, actor=_administrator(request), reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        _say_refusal(request, exc)
    else:
        schedule_scoring_version_apply(version)
        messages.success(request, f"Applying version {number}: every score is recomputed in the background.")
    return redirect("model-version", number=number)


@require_POST
@role_required(ADMINISTRATORS)
def model_version_discard(request: HttpRequest, number: int) -> HttpResponse:
    version = get_object_or_404(ScoringVersion, number=number)
    try:
        scoring_version_discard(version=version, actor=_administrator(request))
    except ValidationError as exc:
        _say_refusal(request, exc)
        return redirect("model-version", number=number)
    messages.success(request, f"Draft {number} discarded.")
    return redirect("model-versions")


@require_POST
@role_required(ADMINISTRATORS)
def model_rollback(request: HttpRequest) -> HttpResponse:
    form = ReasonForm(request.POST, prefix="rollback")
    try:
        if not form.is_valid():
            raise ValidationError({"reason": form.errors.get("reason", ["Say why."])})
        version = scoring_version_rollback(actor=_administrator(request), reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        _say_refusal(request, exc)
        return redirect("model-versions")
    schedule_scoring_version_apply(version)
    messages.success(request, f"Rolling back to version {version.number}: every score is recomputed in the background.")
    return redirect("model-version", number=version.number)
