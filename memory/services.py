"""Writes of the memory engine: bring one customer's memory up to date."""

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer
from interactions.models import Interaction
from journeys.models import Journey
from memory.engine import JourneyMemory, MemoryParameters, MemoryState, Reading, Touch, expected_gain, recompute
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
    return hashlib.sha256(json.dumps(asdict(params), sort_keys=True).encode()).hexdigest()[:32]


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


def _score_on_or_before(customer_id: int, day: date) -> float | None:
    return (
        ScoreSnapshot.objects.filter(customer_id=customer_id, day__lte=day)
        .order_by("-day")
        .values_list("score", flat=True)
        .first()
    )


def _apply_reading(memory: CustomerMemory, reading: Reading, now: datetime) -> None:
    memory.score = reading.score
    memory.band = reading.band
    memory.value = reading.value
    memory.score_as_of = now
    memory.breakdown = reading.to_dict()
    today = now.date()
    week, month = (_score_on_or_before(memory.customer_id, today - timedelta(days=d)) for d in (7, 30))
    memory.trend_7d = reading.score - week if week is not None else None
    memory.trend_30d = reading.score - month if month is not None else None
    # One upsert statement (update_or_create costs a savepoint, a select and a write).
    ScoreSnapshot.objects.bulk_create(
        [
            ScoreSnapshot(
                customer_id=memory.customer_id, day=today, score=reading.score, band=reading.band, value=reading.value
            )
        ],
        update_conflicts=True,
        unique_fields=["customer", "day"],
        update_fields=["score", "band", "value"],
    )


def _write_journeys(journeys: dict[int, JourneyMemory]) -> None:
    values = [(j.journey_id, j.value, j.salience, j.peak.touch_id, j.end.touch_id) for j in journeys.values()]
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

    _apply_reading(memory, state.read(now.timestamp(), params), now)
    memory.next_touch_gain = _next_touch_gain(state, params, now, max_id)
    memory.state = state.to_dict()
    memory.history_version = history_version
    memory.rewrite_version = rewrite_version
    memory.max_interaction_id = max_id
    memory.parameters_fingerprint = fingerprint
    memory.last_interaction_at = datetime.fromtimestamp(state.last_at, tz=UTC) if state.last_at is not None else None
    memory.save()
    _write_journeys(journeys)
    if memory.band != previous_band:
        _notify_band_change(memory, ref, previous_band, now)
    return memory


def _next_touch_gain(state: MemoryState, params: MemoryParameters, now: datetime, max_id: int) -> float:
    """What one very good call now would add: a good ending to an open journey that is
    going badly is worth far more than another touch to a happy customer."""
    if state.active is None or state.last_at is None:
        journey_id = state.max_journey_id + 1
    else:
        open_journey = Journey.objects.filter(pk=state.active.journey_id, closed_at__isnull=True).exists()
        recent = now.timestamp() - state.last_at <= settings.JOURNEY_QUIET_GAP.total_seconds()
        journey_id = state.active.journey_id if open_journey and recent else state.max_journey_id + 1
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
