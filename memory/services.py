"""Writes of the memory engine: bring one customer's memory up to date."""

from __future__ import annotations

import hashlib
import json
import math
import operator
import time as time_module
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from audit.models import Action
from audit.services import audit_record
from config.announce import announce
from customers.models import Customer
from interactions.models import MAX_INTENSITY, MIN_INTENSITY, ChannelDefault, Interaction
from journeys.models import Journey
from memory.engine import (
    JourneyMemory,
    MemoryParameters,
    MemoryState,
    Touch,
    expected_gain,
    parameter_problems,
    recompute,
)
from memory.models import (
    ApplyPhase,
    CustomerMemory,
    MemoryReading,
    ScoreSnapshot,
    ScoringVersion,
    StagedMemory,
    VersionStatus,
)
from memory.signals import BandChange, bands_changed, memories_stored

TOUCH_FIELDS = (
    "id",
    "occurred_at",
    "journey_id",
    "stage__key",
    "channel",
    "valence",
    "intensity",
    "resolves_id",
    "resolved_on_first_contact",
)


def memory_parameters() -> MemoryParameters:
    """The parameters in force: the active scoring version's, or before any version was
    made, the environment's (settings.MEMORY_MODEL)."""
    active = ScoringVersion.objects.filter(status=VersionStatus.ACTIVE).values_list("parameters", flat=True).first()
    return MemoryParameters.from_mapping(active if active is not None else settings.MEMORY_MODEL)


def parameters_fingerprint(params: MemoryParameters) -> str:
    return hashlib.sha256(json.dumps(params.as_dict(), sort_keys=True).encode()).hexdigest()[:32]


def touch_from_row(row: tuple[Any, ...]) -> Touch:
    pk, occurred_at, journey_id, stage, channel, valence, intensity, resolves_id, first_contact = row
    return Touch(
        id=pk,
        at=occurred_at.timestamp(),
        journey_id=journey_id,
        stage=stage,
        channel=channel,
        valence=valence,
        intensity=intensity,
        resolves_id=resolves_id,
        resolved_on_first_contact=first_contact,
    )


def customer_touches(customer_id: int, *, after_id: int = 0) -> list[Touch]:
    rows = (
        Interaction.objects.filter(customer_id=customer_id, id__gt=after_id)
        .order_by("occurred_at", "id")
        .values_list(*TOUCH_FIELDS)
    )
    return [touch_from_row(row) for row in rows]


def _scores_on_or_before(customer_ids: list[int], day: date) -> dict[int, float]:
    """Each customer's latest snapshot score on or before `day` (two queries for any number)."""
    latest = dict(
        ScoreSnapshot.objects.filter(customer_id__in=customer_ids, day__lte=day)
        .order_by()  # the model's ordering (by customer, in their own order) would join the customers
        .values("customer_id")
        .annotate(last=Max("day"))
        .values_list("customer_id", "last")
    )
    if not latest:
        return {}
    rows = ScoreSnapshot.objects.filter(customer_id__in=latest, day__in=set(latest.values())).values_list(
        "customer_id", "day", "score"
    )
    return {customer_id: score for customer_id, day, score in rows if latest[customer_id] == day}


def _open_journey_ids(states: list[MemoryState]) -> set[int]:
    active = [s.active_journey_id for s in states if s.active_journey_id is not None]
    return set(Journey.objects.filter(pk__in=active, closed_at__isnull=True).values_list("pk", flat=True))


@dataclass
class _Context:
    """What every reading in one refresh shares: the moment, the model, and the few facts
    read for all its customers at once."""

    now: datetime
    params: MemoryParameters
    fingerprint: str
    week_ago: dict[int, float]
    month_ago: dict[int, float]
    open_journeys: set[int]

    @classmethod
    def load(
        cls, customer_ids: list[int], states: list[MemoryState], now: datetime, params: MemoryParameters
    ) -> _Context:
        today = now.date()
        return cls(
            now=now,
            params=params,
            fingerprint=parameters_fingerprint(params),
            week_ago=_scores_on_or_before(customer_ids, today - timedelta(days=7)),
            month_ago=_scores_on_or_before(customer_ids, today - timedelta(days=30)),
            open_journeys=_open_journey_ids(states),
        )


def _update_memory(
    memory: CustomerMemory, state: MemoryState, max_id: int, versions: tuple[int, int], ctx: _Context
) -> ScoreSnapshot:
    """Set every field of the memory from its state read now; returns today's snapshot (unsaved)."""
    reading = state.read(ctx.now.timestamp(), ctx.params)
    week, month = ctx.week_ago.get(memory.customer_id), ctx.month_ago.get(memory.customer_id)
    memory.score = reading.score
    memory.band = reading.band
    memory.value = reading.value
    memory.lived_score = reading.lived_score
    memory.score_as_of = ctx.now
    memory.breakdown = reading.to_dict()
    memory.trend_7d = reading.score - week if week is not None else None
    memory.trend_30d = reading.score - month if month is not None else None
    memory.next_touch_gain = _next_touch_gain(state, ctx, max_id)
    memory.state = state.to_dict()
    memory.history_version, memory.rewrite_version = versions
    memory.max_interaction_id = max_id
    memory.parameters_fingerprint = ctx.fingerprint
    memory.last_interaction_at = datetime.fromtimestamp(state.last_at, tz=UTC) if state.last_at is not None else None
    return ScoreSnapshot(
        customer_id=memory.customer_id, day=ctx.now.date(), score=reading.score, band=reading.band, value=reading.value
    )


def _save_snapshots(snapshots: list[ScoreSnapshot]) -> None:
    # One upsert statement (update_or_create costs a savepoint, a select and a write each).
    ScoreSnapshot.objects.bulk_create(
        snapshots, update_conflicts=True, unique_fields=["customer", "day"], update_fields=["score", "band", "value"]
    )


JourneyRow = tuple[int, float, float, int | None, int | None]  # id, value, salience, peak, end


def _journey_rows(journeys: dict[int, JourneyMemory], params: MemoryParameters) -> list[JourneyRow]:
    return [
        (
            j.journey_id,
            j.value_at_end(params),
            j.salience(params),
            j.peak.touch_id if j.peak else None,
            j.end.touch_id if j.end else None,
        )
        for j in journeys.values()
    ]


def _write_journeys(values: list[JourneyRow]) -> None:
    if not values:
        return
    if connection.vendor == "postgresql":
        # One UPDATE ... FROM (VALUES ...): bulk_update's CASE per column costs more
        # Python than the whole rest of a refresh (profiled at 5M touchpoints).
        table = Journey._meta.db_table
        rows = ", ".join(["(%s, %s::double precision, %s::double precision, %s::bigint, %s::bigint)"] * len(values))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS j SET remembered_value = v.value, salience = v.salience, "  # noqa: S608 - table name from the model
                "peak_interaction_id = v.peak, end_interaction_id = v.end_id "
                f"FROM (VALUES {rows}) AS v(id, value, salience, peak, end_id) WHERE j.id = v.id",
                [x for row in values for x in row],
            )
        return
    objects = [
        Journey(pk=pk, remembered_value=value, salience=salience, peak_interaction_id=peak, end_interaction_id=end)
        for pk, value, salience, peak, end in values
    ]
    Journey.objects.bulk_update(
        objects, ["remembered_value", "salience", "peak_interaction_id", "end_interaction_id"], batch_size=500
    )


CustomerRow = tuple[int, int, int, str]  # id, history_version, rewrite_version, ref


def _locked_customers(customer_ids: list[int]) -> list[CustomerRow]:
    """Lock these customers in id order, the lock order every writer of touchpoints uses
    (locking only the memory row deadlocked: a refresh updated a journey a writer was about
    to update, then at COMMIT waited on a foreign-key check of the customer row that writer
    held). The lock also keeps the versions steady while we read. NO KEY UPDATE: it
    serialises with writers and other refreshes, but not with the foreign-key checks of
    rows being inserted for these customers elsewhere."""
    return list(
        Customer.objects.select_for_update(no_key=True)
        .filter(pk__in=customer_ids)
        .order_by("pk")
        .values_list("pk", "history_version", "rewrite_version", "ref")
    )


def stale_customer_ids(*, limit: int, params: MemoryParameters | None = None) -> list[int]:
    """The first `limit` customers, by id, whose memory is behind their interactions (or
    who have none yet), or was computed under other numbers than the ones in force (a
    refresh that raced a version switch, a switch that died half-way). While a version is
    being applied, the switch itself brings memories to the new numbers: they are not
    stale for that reason. Two index reads, whatever the number of customers: a partial
    index on the customers whose history moved past what their memory has seen, and one
    on the memories' fingerprints."""
    behind = list(
        Customer.objects.filter(history_version__gt=F("memory_version"))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if ScoringVersion.objects.exclude(apply_phase=ApplyPhase.IDLE).exists():
        return behind
    fingerprint = parameters_fingerprint(params or memory_parameters())
    # Not "!= fingerprint": two ranges, which the index can serve.
    other_numbers = Q(parameters_fingerprint__lt=fingerprint) | Q(parameters_fingerprint__gt=fingerprint)
    outdated = list(
        CustomerMemory.objects.filter(other_numbers)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)[:limit]
    )
    return sorted({*behind, *outdated})[:limit]


def memories_behind() -> bool:
    return bool(stale_customer_ids(limit=1))


def _touches_after(after: Mapping[int, int]) -> dict[int, list[Touch]]:
    """Each customer's touches with an id above the one given (0: the whole history), in
    order, in one statement for all of them."""
    found: dict[int, list[Touch]] = {pk: [] for pk in after}
    whole = [pk for pk, last_seen in after.items() if last_seen == 0]
    parts = [Q(customer_id=pk, id__gt=last_seen) for pk, last_seen in after.items() if last_seen]
    if whole:
        parts.append(Q(customer_id__in=whole))
    if parts:
        rows = Interaction.objects.filter(reduce(operator.or_, parts)).order_by("customer_id", "occurred_at", "id")
        for row in rows.values_list("customer_id", *TOUCH_FIELDS):
            found[row[0]].append(touch_from_row(row[1:]))
    return found


@dataclass
class _Computed:
    """One customer's memory state after a refresh, and where it came from."""

    state: MemoryState
    journeys: dict[int, JourneyMemory]
    max_id: int
    full: bool


def _appended(memory: CustomerMemory, touches: list[Touch], params: MemoryParameters) -> _Computed | None:
    """The stored state with the new touches folded in, O(1) each; None when one of them
    changes the past (it arrived out of order), which needs the whole history."""
    state = MemoryState.from_dict(memory.state)
    max_id = memory.max_interaction_id
    for touch in touches:
        if not state.can_append(touch):
            return None
        state.append(touch, params)
        max_id = max(max_id, touch.id)
    return _Computed(state, state.journey_values(params), max_id, full=False)


def _computed(
    customers: list[CustomerRow], memories: dict[int, CustomerMemory], params: MemoryParameters, *, force: bool
) -> dict[int, _Computed]:
    """Every customer's new state: appended to the stored one where it is still good (same
    numbers, no rewrite of the past since), recomputed from the whole history otherwise."""
    fingerprint = parameters_fingerprint(params)
    appendable = {
        pk: memory.max_interaction_id
        for pk, _, rewrite_version, _ in customers
        if not force
        and (memory := memories.get(pk)) is not None
        and memory.parameters_fingerprint == fingerprint
        and memory.rewrite_version == rewrite_version
    }
    computed: dict[int, _Computed] = {}
    for pk, touches in _touches_after(appendable).items():
        appended = _appended(memories[pk], touches, params)
        if appended is not None:
            computed[pk] = appended
    for pk, touches in _touches_after({row[0]: 0 for row in customers if row[0] not in computed}).items():
        result = recompute(touches, params)
        computed[pk] = _Computed(result.state, result.journeys, max((t.id for t in touches), default=0), full=True)
    return computed


@dataclass
class _Recomputed:
    """One customer's memory brought up to date, not yet stored."""

    memory: CustomerMemory
    ref: str
    previous_band: str
    snapshot: ScoreSnapshot
    journeys: list[JourneyRow]


def _refresh_locked(
    customers: list[CustomerRow], now: datetime, params: MemoryParameters, *, force: bool = False
) -> list[_Recomputed]:
    """The memories of these locked customers, read as of `now`, in a few statements for
    the lot; `force`: each from its whole history."""
    ids = [row[0] for row in customers]
    existing = {m.customer_id: m for m in CustomerMemory.objects.filter(customer_id__in=ids)}
    computed = _computed(customers, existing, params, force=force)
    ctx = _Context.load(ids, [c.state for c in computed.values()], now, params)
    done = []
    for pk, history_version, rewrite_version, ref in customers:
        memory = existing.get(pk) or CustomerMemory(customer_id=pk)
        previous_band = memory.band
        new = computed[pk]
        snapshot = _update_memory(memory, new.state, new.max_id, (history_version, rewrite_version), ctx)
        memory.full_recomputes += int(new.full)
        memory.updated_at = now
        done.append(_Recomputed(memory, ref, previous_band, snapshot, _journey_rows(new.journeys, params)))
    return done


def _recompute_locked(customer_ids: list[int], now: datetime, params: MemoryParameters) -> list[_Recomputed]:
    """Lock these customers and compute their memories from their whole histories."""
    return _refresh_locked(_locked_customers(customer_ids), now, params, force=True)


MEMORY_FIELDS = [f.name for f in CustomerMemory._meta.concrete_fields if not f.primary_key]


def _store(recomputed: list[_Recomputed], now: datetime) -> None:
    """Make these memories live: memory rows, today's snapshots, journey values, and the
    band-changed webhook of every customer whose band moved."""
    if not recomputed:
        return
    CustomerMemory.objects.bulk_create(
        [r.memory for r in recomputed], update_conflicts=True, unique_fields=["customer"], update_fields=MEMORY_FIELDS
    )
    # The customers' side of "is the memory behind?" (their rows are locked by the caller).
    seen = CustomerMemory.objects.filter(customer_id=OuterRef("pk")).values("history_version")[:1]
    Customer.objects.filter(pk__in=[r.memory.customer_id for r in recomputed]).update(memory_version=Subquery(seen))
    _save_snapshots([r.snapshot for r in recomputed])
    _write_journeys([row for r in recomputed for row in r.journeys])
    _announce_stored([(r.memory, r.ref, r.previous_band) for r in recomputed], now)


@transaction.atomic
def memory_refresh(*, customer_id: int, as_of: datetime | None = None, force_recompute: bool = False) -> CustomerMemory:
    """Bring a customer's memory up to date with their interactions, read as of `as_of`.

    New touchpoints that arrive in order are folded into the running state in O(1) each;
    anything that changes the past (an edit, a deletion, an out-of-order arrival, a
    recovery, changed parameters) recomputes this customer from their whole history.
    Safe to run any number of times, concurrently.
    """
    now = as_of or timezone.now()
    customers = _locked_customers([customer_id])
    if not customers:
        raise Customer.DoesNotExist(f"customer {customer_id} does not exist")
    [refreshed] = _refresh_locked(customers, now, memory_parameters(), force=force_recompute)
    _store([refreshed], now)
    return refreshed.memory


@transaction.atomic
def memory_refresh_many(*, customer_ids: list[int], as_of: datetime | None = None) -> int:
    """memory_refresh for each of these customers, in a few statements for the lot (the
    nightly re-read). Customers deleted meanwhile are skipped. Returns how many."""
    now = as_of or timezone.now()
    refreshed = _refresh_locked(_locked_customers(customer_ids), now, memory_parameters())
    _store(refreshed, now)
    return len(refreshed)


@transaction.atomic
def memory_recompute_many(
    *, customer_ids: list[int], as_of: datetime | None = None, params: MemoryParameters | None = None
) -> int:
    """Recompute these customers' memories from their whole histories, in a few statements
    for the lot (recompute_scores, seeding): the same result as memory_refresh with
    force_recompute for each, without its dozen queries per customer. Returns how many."""
    now = as_of or timezone.now()
    recomputed = _recompute_locked(customer_ids, now, params or memory_parameters())
    _store(recomputed, now)
    return len(recomputed)


STALE_BATCH = 200


def memory_refresh_stale(*, batch: int = STALE_BATCH, seconds: float | None = None) -> tuple[int, bool]:
    """Refresh every memory that is behind, `batch` customers at a time, until a batch
    comes back short or `seconds` have passed: the stage that follows stored touchpoints.
    The database is the outbox (a customer's history version is ahead of their memory's),
    so a lost task or a dead worker delays a refresh and never loses one. Each batch is
    taken and refreshed in one transaction; two workers draining at once take different
    customers (the rows are locked, the other skips them). Returns (refreshed, whether
    more may be waiting): time ran out, or a customer behind was held by another
    transaction. That one may write nothing and queue nothing (a request that turns out
    to be a retry holds the customer's lock too), so the caller must come back for it."""
    deadline = None if seconds is None else time_module.monotonic() + seconds
    refreshed = 0
    while True:
        with transaction.atomic():
            params = memory_parameters()
            candidates = stale_customer_ids(limit=batch, params=params)
            # One another transaction holds is skipped; one another drain refreshed
            # meanwhile is refreshed again, to the same score.
            customers = list(
                Customer.objects.filter(pk__in=candidates)
                .select_for_update(no_key=True, skip_locked=True, of=("self",))
                .order_by("pk")
                .values_list("pk", "history_version", "rewrite_version", "ref")
            )
            now = timezone.now()
            _store(_refresh_locked(customers, now, params), now)
        refreshed += len(customers)
        if len(candidates) < batch:
            return refreshed, len(customers) < len(candidates)
        if deadline is not None and time_module.monotonic() > deadline:
            return refreshed, True


def _next_touch_gain(state: MemoryState, ctx: _Context, max_id: int) -> float:
    """What one very good call now would add: a good ending to an open journey that is
    going badly is worth far more than another touch to a happy customer."""
    now, params = ctx.now, ctx.params
    if state.active_journey_id is None or state.last_at is None:
        journey_id = state.max_journey_id + 1
    else:
        open_journey = state.active_journey_id in ctx.open_journeys
        recent = now.timestamp() - state.last_at <= settings.JOURNEY_QUIET_GAP.total_seconds()
        journey_id = state.active_journey_id if open_journey and recent else state.max_journey_id + 1
    # The touch a manager can plan: a very good, fairly vivid call, now.
    touch = Touch(
        id=max_id + 1,
        at=max(now.timestamp(), state.last_at or 0.0),
        journey_id=journey_id,
        stage="fulfilment",
        channel="call",
        valence=2,
        intensity=3,
    )
    return max(0.0, expected_gain(state, touch, touch.at, params))


def _announce_stored(changed: list[tuple[CustomerMemory, str, str]], now: datetime) -> None:
    """Tell the stages above of every memory stored (the playbooks' triggers), and of every
    (memory, ref, previous band) whose band moved (webhooks)."""
    announce(memories_stored, sender=CustomerMemory, customer_ids=[memory.customer_id for memory, _, _ in changed])
    changes = [
        BandChange(memory.customer_id, ref, previous, memory.band, memory.score, now)
        for memory, ref, previous in changed
        if memory.band != previous
    ]
    if changes:
        announce(bands_changed, sender=CustomerMemory, changes=changes)


def memory_backfill_history(*, customer_id: int, start: date, end: date, every_days: int = 7) -> int:
    """Score snapshots for past days, each computed from the touchpoints known by then
    (for a history imported in one go, so that trends have something to compare with)."""
    params = memory_parameters()
    touches = customer_touches(customer_id)
    rows = []
    day = start
    while day < end:
        cutoff = datetime.combine(day, time(23, 59), tzinfo=UTC).timestamp()
        known = [t for t in touches if t.at <= cutoff]
        if known:
            reading = recompute(known, params).state.read(cutoff, params)
            rows.append(
                ScoreSnapshot(
                    customer_id=customer_id, day=day, score=reading.score, band=reading.band, value=reading.value
                )
            )
        day += timedelta(days=every_days)
    ScoreSnapshot.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["customer", "day"], update_fields=["score", "band", "value"]
    )
    return len(rows)


# -- scoring versions ------------------------------------------------------------------------
# A change of the model's numbers is a draft; applying it computes every customer's memory
# under it into StagedMemory rows while the pages serve the scores in force, then makes it
# the version in force and switches the staged rows over a chunk at a time (a customer whose
# history moved on meanwhile is recomputed on the spot). Rolling back applies the version
# that was in force before, the same way. The sweeper recomputes any memory whose
# fingerprint is not the active version's, so a crash anywhere costs time, never a score.

VERSION_CHUNK = 500
READING_FIELDS = [f.name for f in MemoryReading._meta.fields]


def _channel_intensities() -> dict[str, int]:
    return dict(ChannelDefault.objects.values_list("channel", "intensity"))


def _next_version_number() -> int:
    return (ScoringVersion.objects.aggregate(last=Max("number"))["last"] or 0) + 1


def scoring_version_in_force(*, actor: Any = None) -> ScoringVersion:
    """The active version; the first time, the environment's defaults are recorded as one,
    so that history starts with what was in force and a rollback can return to it."""
    active = ScoringVersion.objects.filter(status=VersionStatus.ACTIVE).first()
    if active is not None:
        return active
    version = ScoringVersion.objects.create(
        number=_next_version_number(),
        status=VersionStatus.ACTIVE,
        parameters=MemoryParameters.from_mapping(settings.MEMORY_MODEL).as_dict(),
        channel_intensities=_channel_intensities(),
        origin="environment",
        note="The defaults from the environment (the MEMORY_* variables), in force before any version was made.",
        applied_at=timezone.now(),
    )
    audit_record(actor=actor, action=Action.CREATE, obj=version, reason="recorded the model in force")
    return version


def _version_errors(parameters: Mapping[str, Any], intensities: Mapping[str, Any]) -> dict[str, list[str]]:
    errors = parameter_problems(parameters)
    channels = set(_channel_intensities())
    for channel, intensity in intensities.items():
        if channel not in channels:
            errors[f"intensity_{channel}"] = [f"Unknown channel {channel!r}."]
        elif (
            isinstance(intensity, bool)
            or not isinstance(intensity, int)
            or not MIN_INTENSITY <= intensity <= MAX_INTENSITY
        ):
            errors[f"intensity_{channel}"] = [f"Give a whole number from {MIN_INTENSITY} to {MAX_INTENSITY}."]
    return errors


def _differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {name: (before.get(name), value) for name, value in after.items() if before.get(name) != value}


@transaction.atomic
def scoring_version_draft(
    *,
    actor: Any,
    parameters: Mapping[str, Any] | None = None,
    channel_intensities: Mapping[str, int] | None = None,
    note: str = "",
    origin: str = "edited",
    calibration: Mapping[str, Any] | None = None,
) -> ScoringVersion:
    """A new draft: the version in force with these values changed."""
    base = scoring_version_in_force(actor=actor)
    values = {**base.parameters, **(parameters or {})}
    intensities = {**_channel_intensities(), **base.channel_intensities, **(channel_intensities or {})}
    if errors := _version_errors(values, intensities):
        raise ValidationError(errors)
    version = ScoringVersion.objects.create(
        number=_next_version_number(),
        parameters=values,
        channel_intensities=intensities,
        note=note,
        origin=origin,
        calibration=dict(calibration or {}),
        based_on=base,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        obj=version,
        changes={**_differences(base.parameters, values), **_differences(base.channel_intensities, intensities)},
        reason=note,
    )
    return version


def _locked(version: ScoringVersion) -> ScoringVersion:
    return ScoringVersion.objects.select_for_update().get(pk=version.pk)


@transaction.atomic
def scoring_version_update(
    *,
    version: ScoringVersion,
    actor: Any,
    parameters: Mapping[str, Any],
    channel_intensities: Mapping[str, int],
    note: str,
) -> ScoringVersion:
    """Change a draft (only a draft: what was in force stays as it was, for the record)."""
    version = _locked(version)
    if version.status != VersionStatus.DRAFT:
        raise ValidationError(
            {
                "version": [
                    f"Version {version.number} is {version.get_status_display().lower()}; "
                    "only a draft can change. Make a new draft."
                ]
            }
        )
    values = {**version.parameters, **parameters}
    intensities = {**version.channel_intensities, **channel_intensities}
    if errors := _version_errors(values, intensities):
        raise ValidationError(errors)
    changes = {**_differences(version.parameters, values), **_differences(version.channel_intensities, intensities)}
    if note != version.note:
        changes["note"] = (version.note, note)
    version.parameters, version.channel_intensities, version.note = values, intensities, note
    version.save(update_fields=["parameters", "channel_intensities", "note"])
    audit_record(actor=actor, action=Action.UPDATE, obj=version, changes=changes)
    return version


@transaction.atomic
def scoring_version_discard(*, version: ScoringVersion, actor: Any, reason: str = "") -> ScoringVersion:
    version = _locked(version)
    if version.status != VersionStatus.DRAFT:
        raise ValidationError({"version": ["Only a draft can be discarded."]})
    version.status = VersionStatus.DISCARDED
    version.save(update_fields=["status"])
    audit_record(
        actor=actor, action=Action.UPDATE, obj=version, changes={"status": ("draft", "discarded")}, reason=reason
    )
    return version


@transaction.atomic
def scoring_version_apply(*, version: ScoringVersion, actor: Any, reason: str) -> ScoringVersion:
    """Start making `version` the one in force (a draft, or a retired version brought back).
    The work runs in the background: memory.tasks.schedule_scoring_version_apply."""
    version = _locked(version)
    errors: dict[str, list[str]] = {}
    if not reason.strip():
        errors["reason"] = ["Say why: it goes into the audit log beside your name."]
    if version.status not in (VersionStatus.DRAFT, VersionStatus.RETIRED):
        errors["version"] = [
            f"Version {version.number} is {version.get_status_display().lower()}: it cannot be applied."
        ]
    busy = ScoringVersion.objects.select_for_update().exclude(apply_phase=ApplyPhase.IDLE).first()
    if busy is not None:
        errors["version"] = [f"Version {busy.number} is being applied; wait until it has finished."]
    if errors:
        raise ValidationError(errors)
    scoring_version_in_force(actor=actor)  # so that the rollback has somewhere to go
    StagedMemory.objects.filter(version=version).delete()
    previous = version.status
    version.status = VersionStatus.APPLYING
    version.apply_phase = ApplyPhase.COMPUTING
    version.apply_done, version.apply_cursor, version.apply_problem = 0, 0, ""
    version.apply_total = Customer.objects.count()
    version.apply_reason = reason.strip()
    version.applied_by = actor if getattr(actor, "pk", None) else None
    version.save()
    audit_record(
        actor=actor, action=Action.UPDATE, obj=version, changes={"status": (previous, "applying")}, reason=reason
    )
    return version


def scoring_version_previous() -> ScoringVersion | None:
    """The version in force before the active one: where a rollback goes."""
    return ScoringVersion.objects.filter(status=VersionStatus.RETIRED).order_by("-applied_at", "-number").first()


def scoring_version_rollback(*, actor: Any, reason: str) -> ScoringVersion:
    previous = scoring_version_previous()
    if previous is None:
        raise ValidationError({"version": ["No earlier version to go back to."]})
    return scoring_version_apply(version=previous, actor=actor, reason=f"Rollback: {reason}" if reason.strip() else "")


def _customer_batches(after_id: int) -> list[int]:
    return list(Customer.objects.filter(pk__gt=after_id).order_by("pk").values_list("pk", flat=True)[:VERSION_CHUNK])


@transaction.atomic
def _stage(version: ScoringVersion, params: MemoryParameters, customer_ids: list[int], now: datetime) -> None:
    staged = [
        StagedMemory(
            version=version,
            customer_id=r.memory.customer_id,
            journeys=[list(row) for row in r.journeys],
            **{name: getattr(r.memory, name) for name in READING_FIELDS},
        )
        for r in _recompute_locked(customer_ids, now, params)
    ]
    StagedMemory.objects.bulk_create(
        staged,
        update_conflicts=True,
        unique_fields=["version", "customer"],
        update_fields=[*READING_FIELDS, "journeys"],
    )
    _advance(version, customer_ids)


def _advance(version: ScoringVersion, customer_ids: list[int]) -> None:
    """These customers are done in the current phase: the cursor moves past them."""
    ScoringVersion.objects.filter(pk=version.pk).update(
        apply_cursor=customer_ids[-1], apply_done=version.apply_done + len(customer_ids)
    )


@transaction.atomic
def _switch(version: ScoringVersion, params: MemoryParameters, customer_ids: list[int], now: datetime) -> None:
    """Make the staged memories of these customers live; recompute the ones whose history
    moved on since they were staged (or who came after)."""
    locked = _locked_customers(customer_ids)
    current = {pk: (history_version, rewrite_version) for pk, history_version, rewrite_version, _ in locked}
    refs = {pk: ref for pk, _, _, ref in locked}
    staged = {
        s.customer_id: s
        for s in StagedMemory.objects.filter(version=version, customer_id__in=current)
        if (s.history_version, s.rewrite_version) == current[s.customer_id]
    }
    bands = dict(CustomerMemory.objects.filter(customer_id__in=staged).values_list("customer_id", "band"))
    ready = []
    for customer_id, row in staged.items():
        memory = CustomerMemory(customer_id=customer_id, updated_at=now, **{n: getattr(row, n) for n in READING_FIELDS})
        snapshot = ScoreSnapshot(
            customer_id=customer_id, day=now.date(), score=row.score, band=row.band, value=row.value
        )
        journeys: list[JourneyRow] = [tuple(j) for j in row.journeys]
        ready.append(_Recomputed(memory, refs[customer_id], bands.get(customer_id, memory.band), snapshot, journeys))
    moved_on = [row for row in locked if row[0] not in staged]
    ready += _refresh_locked(moved_on, now, params, force=True)
    _store(ready, now)
    StagedMemory.objects.filter(version=version, customer_id__in=current).delete()
    _advance(version, customer_ids)


@transaction.atomic
def _activate(version: ScoringVersion, now: datetime) -> None:
    """The staged version goes into force: the one before it retires, the channel defaults
    take its intensities, and the switching phase begins."""
    version = _locked(version)
    before = ScoringVersion.objects.select_for_update().filter(status=VersionStatus.ACTIVE).exclude(pk=version.pk)
    for old in before:
        old.status = VersionStatus.RETIRED
        old.save(update_fields=["status"])
    # Saved row by row (a dozen channels), so the processes that keep the channel
    # defaults hear of it (config/kept.py).
    for default in ChannelDefault.objects.filter(channel__in=version.channel_intensities):
        default.intensity = version.channel_intensities[default.channel]
        default.save(update_fields=["intensity"])
    version.status = VersionStatus.ACTIVE
    version.apply_phase = ApplyPhase.SWITCHING
    version.apply_done, version.apply_cursor = 0, 0
    version.apply_total = Customer.objects.count()
    version.applied_at = now
    version.save()
    audit_record(
        actor=version.applied_by,
        action=Action.UPDATE,
        obj=version,
        changes={"status": ("applying", "active"), "replaces": [v.number for v in before]},
        reason=version.apply_reason,
    )


def scoring_version_run(*, version_id: int, seconds: float | None = None) -> bool:
    """Carry an apply on (or resume one a dead worker left): compute every memory under
    the version, put it in force, switch the memories over. Idempotent. Stops after about
    `seconds`; returns whether work remains."""
    version = ScoringVersion.objects.filter(pk=version_id).first()
    if version is None or version.apply_phase == ApplyPhase.IDLE:
        return False
    deadline = time_module.monotonic() + seconds if seconds is not None else math.inf
    params = MemoryParameters.from_mapping(version.parameters)
    try:
        # At least one chunk a call, then as many as the time allows.
        while version.apply_phase == ApplyPhase.COMPUTING:
            if batch := _customer_batches(version.apply_cursor):
                _stage(version, params, batch, timezone.now())
            else:
                _activate(version, timezone.now())
            version.refresh_from_db()
            if time_module.monotonic() > deadline:
                return True
        while batch := _customer_batches(version.apply_cursor):
            _switch(version, params, batch, timezone.now())
            version.refresh_from_db()
            if time_module.monotonic() > deadline:
                return True
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task's retry resumes from the cursor
    except Exception as exc:
        _apply_failed(version, f"{type(exc).__name__}: {exc}")
        raise
    ScoringVersion.objects.filter(pk=version.pk).update(apply_phase=ApplyPhase.IDLE)
    StagedMemory.objects.filter(version=version).delete()
    return False


@transaction.atomic
def _apply_failed(version: ScoringVersion, problem: str) -> None:
    """Before it went into force, a failed apply leaves the model as it was; after, the
    version stays in force and the sweeper recomputes what the switch did not reach."""
    version = _locked(version)
    if version.status == VersionStatus.APPLYING:
        version.status = VersionStatus.DRAFT if version.applied_at is None else VersionStatus.RETIRED
    version.apply_phase = ApplyPhase.IDLE
    version.apply_problem = problem[:2000]
    version.save()
    StagedMemory.objects.filter(version=version).delete()
