"""Writes of the memory engine: bring one customer's memory up to date."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from customers.models import Customer
from interactions.models import Interaction
from journeys.models import Journey
from memory.engine import JourneyMemory, MemoryParameters, MemoryState, Touch, expected_gain, recompute
from memory.models import CustomerMemory, ScoreSnapshot

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
    return MemoryParameters.from_mapping(settings.MEMORY_MODEL)


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


def _write_journeys(journeys: dict[int, JourneyMemory], params: MemoryParameters) -> None:
    values = [
        (
            j.journey_id,
            j.value_at_end(params),
            j.salience(params),
            j.peak.touch_id if j.peak else None,
            j.end.touch_id if j.end else None,
        )
        for j in journeys.values()
    ]
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


@transaction.atomic
def memory_refresh(*, customer_id: int, as_of: datetime | None = None, force_recompute: bool = False) -> CustomerMemory:
    """Bring a customer's memory up to date with their interactions, read as of `as_of`.

    New touchpoints that arrive in order are folded into the running state in O(1) each;
    anything that changes the past (an edit, a deletion, an out-of-order arrival, a
    recovery, changed parameters) recomputes this customer from their whole history.
    Safe to run any number of times, concurrently.
    """
    now = as_of or timezone.now()
    # The customer row is locked first, as every writer of touchpoints does: one lock order
    # for everyone. (Locking only the memory row deadlocked: the refresh updated a journey a
    # writer was about to update, then at COMMIT waited on a foreign-key check of the
    # customer row that writer held.) It also keeps the versions steady while we read.
    history_version, rewrite_version, ref = (
        Customer.objects.select_for_update()
        .filter(pk=customer_id)
        .values_list("history_version", "rewrite_version", "ref")
        .get()
    )
    memory, _ = CustomerMemory.objects.get_or_create(customer_id=customer_id)
    previous_band = memory.band
    params = memory_parameters()
    fingerprint = parameters_fingerprint(params)
    full = force_recompute or memory.parameters_fingerprint != fingerprint or memory.rewrite_version != rewrite_version
    max_id = memory.max_interaction_id
    journeys: dict[int, JourneyMemory] = {}
    state = MemoryState()
    if not full:
        state = MemoryState.from_dict(memory.state)
        for touch in customer_touches(customer_id, after_id=max_id):
            if not state.can_append(touch):
                full = True
                break
            state.append(touch, params)
            max_id = max(max_id, touch.id)
        else:
            journeys = state.journey_values(params)
    if full:
        touches = customer_touches(customer_id)
        result = recompute(touches, params)
        state, journeys = result.state, result.journeys
        max_id = max((t.id for t in touches), default=0)
        memory.full_recomputes += 1

    ctx = _Context.load([customer_id], [state], now, params)
    _save_snapshots([_update_memory(memory, state, max_id, (history_version, rewrite_version), ctx)])
    memory.save()
    _write_journeys(journeys, params)
    if memory.band != previous_band:
        _notify_band_change(memory, ref, previous_band, now)
    return memory


@transaction.atomic
def memory_recompute_many(*, customer_ids: list[int], as_of: datetime | None = None) -> int:
    """Recompute these customers' memories from their whole histories, in a few statements
    for the lot (recompute_scores, seeding): the same result as memory_refresh with
    force_recompute for each, without its dozen queries per customer. Returns how many."""
    now = as_of or timezone.now()
    # Customer rows first, in id order: the lock order every writer uses.
    customers = list(
        Customer.objects.select_for_update()
        .filter(pk__in=customer_ids)
        .order_by("pk")
        .values_list("pk", "history_version", "rewrite_version", "ref")
    )
    ids = [row[0] for row in customers]
    touches: dict[int, list[Touch]] = {pk: [] for pk in ids}
    for row in (
        Interaction.objects.filter(customer_id__in=ids)
        .order_by("customer_id", "occurred_at", "id")
        .values_list("customer_id", *TOUCH_FIELDS)
    ):
        touches[row[0]].append(touch_from_row(row[1:]))
    params = memory_parameters()
    results = {pk: recompute(touches[pk], params) for pk in ids}
    ctx = _Context.load(ids, [r.state for r in results.values()], now, params)
    existing = {m.customer_id: m for m in CustomerMemory.objects.filter(customer_id__in=ids)}
    memories, snapshots, changed = [], [], []
    journeys: dict[int, JourneyMemory] = {}
    for pk, history_version, rewrite_version, ref in customers:
        memory = existing.get(pk) or CustomerMemory(customer_id=pk)
        previous_band = memory.band
        max_id = max((t.id for t in touches[pk]), default=0)
        snapshots.append(_update_memory(memory, results[pk].state, max_id, (history_version, rewrite_version), ctx))
        memory.full_recomputes += 1
        memory.updated_at = now
        memories.append(memory)
        journeys.update(results[pk].journeys)
        if memory.band != previous_band:
            changed.append((memory, ref, previous_band))
    fields = [f.name for f in CustomerMemory._meta.concrete_fields if not f.primary_key]
    CustomerMemory.objects.bulk_create(
        memories, update_conflicts=True, unique_fields=["customer"], update_fields=fields
    )
    _save_snapshots(snapshots)
    _write_journeys(journeys, params)
    for memory, ref, previous_band in changed:
        _notify_band_change(memory, ref, previous_band, now)
    return len(ids)


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


def _notify_band_change(memory: CustomerMemory, ref: str, previous: str, now: datetime) -> None:
    from integrations.models import Event
    from integrations.services import webhooks_emit

    webhooks_emit(
        event=Event.BAND_CHANGED,
        items=[
            (
                f"band:{memory.customer_id}:{now.isoformat()}",
                {
                    "customer": {"id": memory.customer_id, "ref": ref},
                    "previous_band": previous,
                    "band": memory.band,
                    "score": round(memory.score, 2),
                    "score_as_of": now.isoformat(),
                },
            )
        ],
    )


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
