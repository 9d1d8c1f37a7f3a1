"""Recording outcomes: idempotent like touchpoints, and the customer's churn mark kept true."""

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import Action
from audit.services import audit_record
from config.validation import Errors, moment_errors, retry_key_errors
from customers.models import Customer
from customers.services import customers_set_churned
from memory.engine import SECONDS_PER_DAY, MemoryParameters
from memory.models import ScoringVersion
from memory.services import memory_parameters
from memory.whatif import what_if
from outcomes.backtest import backtest, rolling_cutoffs
from outcomes.models import NOTE_MAX_LENGTH, BacktestRun, Outcome, OutcomeKind, RunStatus, VersionPreview
from outcomes.reports import report_data, whatif_data
from outcomes.selectors import backtest_histories


@dataclass
class OutcomeIn:
    """One outcome as given (not yet validated); the customer by object, id or ref."""

    kind: Any
    occurred_at: Any
    source: Any
    external_id: Any
    note: Any = ""
    customer: Customer | None = None
    customer_id: Any = None
    customer_ref: Any = ""


@dataclass
class OutcomeResult:
    status: Literal["created", "duplicate", "error"]
    outcome: Outcome | None = None
    errors: Errors = field(default_factory=dict)


def validate_outcome(item: OutcomeIn, *, now: datetime | None = None) -> Errors:
    errors: Errors = {}
    if item.kind not in OutcomeKind.values:
        errors["kind"] = [f"Unknown outcome {item.kind!r}; use one of: {', '.join(OutcomeKind.values)}."]
    if moment := moment_errors(item.occurred_at, what="an outcome", now=now):
        errors["occurred_at"] = moment
    if not isinstance(item.note, str) or len(item.note) > NOTE_MAX_LENGTH:
        errors["note"] = [f"Give text of at most {NOTE_MAX_LENGTH} characters."]
    if item.customer is None and item.customer_id is None and not str(item.customer_ref or "").strip():
        errors["customer_ref"] = ["Give customer_ref or customer (id)."]
    errors.update(retry_key_errors(item.source, item.external_id))
    return errors


def _customers(items: Sequence[OutcomeIn]) -> tuple[dict[int, Customer], dict[str, Customer]]:
    ids = {i.customer_id for i in items if i.customer is None and i.customer_id is not None}
    refs = {str(i.customer_ref).strip() for i in items if i.customer is None and i.customer_id is None}
    found = Customer.objects.filter(Q(pk__in=ids) | Q(ref__in=refs))
    return {c.pk: c for c in found}, {c.ref: c for c in found}


def _stored(items: Sequence[OutcomeIn]) -> dict[tuple[str, str], Outcome]:
    """The outcomes already stored under the batch's keys, in one query."""
    keys = {
        (item.source.strip(), item.external_id.strip())
        for item in items
        if isinstance(item.source, str) and isinstance(item.external_id, str)
    }
    if not keys:
        return {}
    candidates = Outcome.objects.filter(
        source__in={source for source, _ in keys}, external_id__in={external for _, external in keys}
    )
    return {(o.source, o.external_id): o for o in candidates if (o.source, o.external_id) in keys}


@transaction.atomic
def outcomes_record_many(*, items: Sequence[OutcomeIn], recorded_by: User | None = None) -> list[OutcomeResult]:
    """Record a batch: every valid outcome is stored; each invalid one gets its field
    errors; a key (source, external_id) already stored answers `duplicate` with the stored
    outcome. Results are in item order. The customers' churn marks follow."""
    by_id, by_ref = _customers(items)
    results: list[OutcomeResult] = []
    touched: set[int] = set()
    stored_by_key = _stored(items)
    for item in items:
        errors = validate_outcome(item)
        customer = item.customer or (
            by_id.get(item.customer_id) if item.customer_id is not None else by_ref.get(str(item.customer_ref).strip())
        )
        if customer is None and not errors:
            field_name = "customer" if item.customer_id is not None else "customer_ref"
            errors[field_name] = ["No such customer: an outcome is recorded for a customer who exists."]
        if errors or customer is None:
            results.append(OutcomeResult("error", errors=errors))
            continue
        key = {"source": item.source.strip(), "external_id": item.external_id.strip()}
        existing = stored_by_key.get((key["source"], key["external_id"]))
        if existing is not None:
            results.append(OutcomeResult("duplicate", existing))
            continue
        try:
            with transaction.atomic():  # a concurrent twin loses the race here, not the batch
                stored = Outcome.objects.create(
                    customer=customer,
                    kind=item.kind,
                    occurred_at=item.occurred_at,
                    note=item.note.strip(),
                    recorded_by=recorded_by,
                    **key,
                )
        except IntegrityError:
            results.append(OutcomeResult("duplicate", Outcome.objects.get(**key)))
            continue
        stored_by_key[key["source"], key["external_id"]] = stored  # a repeat later in the batch
        touched.add(customer.pk)
        results.append(OutcomeResult("created", stored))
    refresh_churn(touched)
    return results


def outcome_record(*, customer: Customer, recorded_by: User | None = None, **fields: Any) -> OutcomeResult:
    [result] = outcomes_record_many(items=[OutcomeIn(customer=customer, **fields)], recorded_by=recorded_by)
    return result


@transaction.atomic
def outcome_delete(*, outcome: Outcome, actor: Any, reason: str = "") -> None:
    audit_record(
        actor=actor,
        action=Action.DELETE,
        obj=outcome,
        changes={"customer_id": outcome.customer_id, "kind": outcome.kind, "occurred_at": outcome.occurred_at},
        reason=reason,
    )
    customer_id = outcome.customer_id
    outcome.delete()
    refresh_churn([customer_id])


def refresh_churn(customer_ids: Iterable[int]) -> None:
    """A customer is churned when their latest lifecycle outcome is a churn (a renewal or
    an expansion after it means they were won back)."""
    ids = list(customer_ids)
    if not ids:
        return
    latest: dict[int, tuple[str, datetime]] = {}
    rows = Outcome.objects.filter(customer_id__in=ids).order_by("customer_id", "occurred_at", "id")
    for customer_id, kind, occurred_at in rows.values_list("customer_id", "kind", "occurred_at"):
        latest[customer_id] = (kind, occurred_at)
    customers_set_churned(
        {cid: (latest[cid][1] if cid in latest and latest[cid][0] == OutcomeKind.CHURNED else None) for cid in ids}
    )


@transaction.atomic
def backtest_run_create(
    *, cutoff: datetime, window_days: int, rolling: bool = False, created_by: User | None = None
) -> BacktestRun:
    """A run to be executed in the background (outcomes.tasks.schedule_backtest)."""
    errors: Errors = {}
    if moment := moment_errors(cutoff, what="a cut-off"):
        errors["cutoff"] = moment
    if not isinstance(window_days, int) or not 7 <= window_days <= 730:
        errors["window_days"] = ["Give a window of 7 to 730 days."]
    if errors:
        raise ValidationError(errors)
    return BacktestRun.objects.create(cutoff=cutoff, window_days=window_days, rolling=rolling, created_by=created_by)


def backtest_run_execute(*, run_id: int, on_progress: Callable[[int], None] | None = None) -> None:
    """Run (or run again) a backtest; its reports replace any earlier ones."""
    run = BacktestRun.objects.filter(pk=run_id).first()
    if run is None or run.status == RunStatus.DONE:
        return
    _run_recording_failure(BacktestRun, run.pk, lambda: _execute(run, on_progress))


def _run_recording_failure(model: type[BacktestRun] | type[VersionPreview], pk: int, work: Callable[[], None]) -> None:
    """Mark the job running and do its work. Anything but a database outage (the task's
    retry runs it again) marks it failed with the reason, for the page that waits on it."""
    model.objects.filter(pk=pk).update(status=RunStatus.RUNNING, progress=0)
    try:
        work()
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        model.objects.filter(pk=pk).update(status=RunStatus.FAILED, problem=f"{type(exc).__name__}: {exc}"[:2000])
        raise


def _execute(run: BacktestRun, on_progress: Callable[[int], None] | None) -> None:
    started = time.monotonic()
    histories = backtest_histories()
    params = memory_parameters()
    cutoffs = [run.cutoff.timestamp()]
    if run.rolling and histories:
        first = min((t.at for h in histories for t in h.touches), default=cutoffs[0])
        cutoffs = sorted({*rolling_cutoffs(first, cutoffs[0] + run.window_days * SECONDS_PER_DAY,
                                           window_days=run.window_days), cutoffs[0]})  # fmt: skip
    reports = []
    for done, cutoff in enumerate(cutoffs):

        def progress(step: int, steps: int, done: int = done) -> None:
            percent = int(100 * (done + step / steps) / len(cutoffs))
            BacktestRun.objects.filter(pk=run.pk).update(progress=percent)
            if on_progress:
                on_progress(percent)

        reports.append(report_data(backtest(histories, cutoff=cutoff, params=params,
                                            window_days=run.window_days, progress=progress)))  # fmt: skip
    BacktestRun.objects.filter(pk=run.pk).update(
        status=RunStatus.DONE, progress=100, reports=reports, seconds=time.monotonic() - started
    )


# Above this many customers with touchpoints, the what-if scores a random sample of them
# (the page says so and gives every share with its interval): it answers within a minute at
# 100k customers and 5M touchpoints (bench/preview.py).
PREVIEW_SAMPLE = 10_000


def version_preview_create(*, version: ScoringVersion, created_by: User | None = None) -> VersionPreview:
    """A what-if of `version` against the parameters in force now (run: schedule_preview)."""
    return VersionPreview.objects.create(version=version, against=memory_parameters().as_dict(), created_by=created_by)


def version_preview_execute(*, preview_id: int, sample_limit: int = PREVIEW_SAMPLE) -> None:
    preview = VersionPreview.objects.select_related("version").filter(pk=preview_id).first()
    if preview is None or preview.status == RunStatus.DONE:
        return
    _run_recording_failure(VersionPreview, preview.pk, lambda: _preview(preview, sample_limit))


def _preview(preview: VersionPreview, sample_limit: int) -> None:
    started = time.monotonic()
    now = timezone.now()
    current = MemoryParameters.from_mapping(preview.against)
    draft = MemoryParameters.from_mapping(preview.version.parameters)
    ids = list(Customer.objects.filter(history_version__gt=0).values_list("pk", flat=True))
    population = len(ids)
    if population > sample_limit:
        ids = random.Random(preview.pk).sample(ids, sample_limit)  # noqa: S311 - a sample, not a secret
    histories = backtest_histories(ids)

    def progress(done: int, total: int) -> None:
        VersionPreview.objects.filter(pk=preview.pk).update(progress=int(70 * done / max(total, 1)))

    result = what_if(
        {h.customer_id: h.touches for h in histories},
        at=now.timestamp(),
        current=current,
        draft=draft,
        population=population,
        progress=progress,
    )
    seconds = time.monotonic() - started
    VersionPreview.objects.filter(pk=preview.pk).update(whatif=whatif_data(result), seconds=seconds, progress=70)
    backtest_started = time.monotonic()
    cutoff = (now.timestamp()) - preview.window_days * SECONDS_PER_DAY
    reports = {
        name: report_data(
            backtest(histories, cutoff=cutoff, params=params, window_days=preview.window_days, baselines=False)
        )
        for name, params in (("current", current), ("draft", draft))
    }
    VersionPreview.objects.filter(pk=preview.pk).update(
        status=RunStatus.DONE,
        progress=100,
        backtests=reports,
        backtest_seconds=time.monotonic() - backtest_started,
    )
