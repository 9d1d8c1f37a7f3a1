"""A large, realistic data set written set-based (PostgreSQL COPY), for benchmarks.

The services write one batch of touchpoints at a time with every check; seeding five
million of them that way would take hours. This module generates whole customer
histories in Python, assigns journeys with the product's own rules (journeys/rules.py),
and COPYs customers, journeys and touchpoints in chunks, ids reserved from the
sequences up front so touchpoints can point at their journey and at the complaint they
resolve in the same pass. It must run alone (nothing else writing) on PostgreSQL.
"""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from customers.models import Customer, Segment
from interactions.models import Channel, ChannelDefault, Interaction
from journeys.models import Journey, JourneyStage
from journeys.rules import JourneyBook, JourneyDraft

SOURCE = "scale-seed"
REF_PREFIX = "S-"
SEGMENTS = ["Enterprise", "Mid-market", "Small business", "Consumers"]
# How often each channel occurs (the rest of the channels: 1).
CHANNEL_WEIGHTS = {"email": 30, "call": 25, "chat": 15, "support_ticket": 10, "meeting": 5, "complaint": 5}
FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luca"]
LAST = ["Archer", "Brennan", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jansen"]
COMPANIES = ["Traders", "Logistics", "Studio", "Foods", "Health", "Partners", "Systems", "Retail"]


@dataclass(frozen=True)
class ScalePlan:
    customers: int
    interactions: int
    days: int
    seed: int
    chunk_customers: int = 2000


def _counts(plan: ScalePlan, rng: random.Random) -> list[int]:
    """Touchpoints per customer: skewed (a few very active accounts), at least one each,
    summing exactly to the plan."""
    weights = [rng.lognormvariate(0, 0.9) for _ in range(plan.customers)]
    spare = plan.interactions - plan.customers
    total = sum(weights)
    counts = [1 + int(w / total * spare) for w in weights]
    for i in rng.sample(range(plan.customers), plan.interactions - sum(counts)):
        counts[i] += 1
    return counts


def _times(n: int, rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    """Touchpoints come in bursts (an order, a support case) separated by quiet spells."""
    span = (end - start).total_seconds()
    bursts = [rng.random() * span for _ in range(max(1, n // 6))]
    seconds = [min(span, rng.choice(bursts) + rng.expovariate(1 / (5 * 86400))) for _ in range(n)]
    return sorted(start + timedelta(seconds=s) for s in seconds)


class _Writer:
    """Tab-separated COPY text. Values are written as they are, unescaped: the generated ones
    never hold a tab, newline or backslash."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.rows = 0

    def row(self, *values: object) -> None:
        self.buffer.write("\t".join("\\N" if v is None else str(v) for v in values))
        self.buffer.write("\n")
        self.rows += 1

    def copy(self, table: str, columns: str) -> None:
        if self.rows:
            self.buffer.seek(0)
            with connection.cursor() as cursor:
                cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", self.buffer)


def _reserve_ids(model: type, n: int) -> int:
    """The first of n consecutive ids, taken from the table's sequence."""
    table = model._meta.db_table  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
            [table, table, n],
        )
        last = int(cursor.fetchone()[0])
    return last - n + 1


def seed_scale(plan: ScalePlan, *, now: datetime, progress: Callable[[int, int], None]) -> tuple[int, int]:
    """Write the plan's customers and touchpoints; returns (customers, touchpoints).
    `progress(customers_done, touchpoints_done)` is called after each chunk."""
    if connection.vendor != "postgresql":
        raise RuntimeError("seed_scale writes with PostgreSQL COPY: set DATABASE_URL to a PostgreSQL database.")
    if Customer.objects.filter(ref__startswith=REF_PREFIX).exists():
        raise RuntimeError(
            f"this database already has scale customers ({REF_PREFIX}...): seed a fresh database "
            "(or empty this one with `python manage.py flush`)."
        )
    world = _World.load(plan, now)
    counts = _counts(plan, world.rng)
    done_customers = done_touches = 0
    for first in range(0, plan.customers, plan.chunk_customers):
        chunk = counts[first : first + plan.chunk_customers]
        with transaction.atomic():
            _write_chunk(world, first, chunk)
        done_customers += len(chunk)
        done_touches += sum(chunk)
        progress(done_customers, done_touches)
    return done_customers, done_touches


@dataclass
class _World:
    """What every chunk draws from."""

    rng: random.Random
    now: datetime
    start: datetime
    segments: list[int]
    stage_keys: dict[int, str]
    defaults: dict[str, tuple[int, int]]
    staff: list[int]

    @classmethod
    def load(cls, plan: ScalePlan, now: datetime) -> _World:
        return cls(
            rng=random.Random(plan.seed),  # noqa: S311 - benchmark data, not secrets
            now=now,
            start=now - timedelta(days=plan.days),
            segments=[Segment.objects.get_or_create(name=name)[0].pk for name in SEGMENTS],
            stage_keys=dict(JourneyStage.objects.values_list("pk", "key")),
            defaults={d.channel: (d.stage_id, d.intensity) for d in ChannelDefault.objects.all()},
            staff=list(get_user_model().objects.filter(groups__isnull=False).distinct().values_list("pk", flat=True)),
        )

    def maybe_staff(self, share: float) -> int | None:
        return self.rng.choice(self.staff) if self.staff and self.rng.random() < share else None


def _ref(number: int) -> str:
    return f"{REF_PREFIX}{number:07d}"


def _write_chunk(world: _World, first: int, chunk: list[int]) -> None:
    """Customers `first + 1` onwards, with chunk[k] touchpoints for the k-th, and their journeys."""
    customer_ids = _write_customers(world, first, chunk)
    touches, journeys = _histories(world, customer_ids, chunk)
    journey_ids = _write_journeys(world, journeys)
    _write_touches(world, touches, journey_ids)


def _write_customers(world: _World, first: int, chunk: list[int]) -> list[int]:
    rng, stamp = world.rng, world.now.isoformat()
    customers = _Writer()
    for offset, n in enumerate(chunk):
        number = first + offset + 1
        person = rng.random() < 0.3
        company = "" if person else f"{rng.choice(LAST)} {rng.choice(COMPANIES)}"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if person else company
        customers.row(
            _ref(number), name, "person" if person else "business", f"customer{number}@example.com", company,
            rng.choice(world.segments), world.maybe_staff(0.8), "", n, 0, stamp, stamp,
        )  # fmt: skip
    customers.copy(
        Customer._meta.db_table,
        "ref, name, kind, email, company, segment_id, owner_id, notes, history_version, rewrite_version, "
        "created_at, updated_at",
    )
    refs = [_ref(first + o + 1) for o in range(len(chunk))]
    by_ref = dict(Customer.objects.filter(ref__in=refs).values_list("ref", "pk"))
    return [by_ref[ref] for ref in refs]


def _histories(
    world: _World, customer_ids: list[int], chunk: list[int]
) -> tuple[list[_Touch], list[tuple[int, JourneyDraft]]]:
    rng = world.rng
    channels = list(Channel.values)
    weights = [CHANNEL_WEIGHTS.get(c, 1) for c in channels]
    gap, span = settings.JOURNEY_QUIET_GAP, settings.JOURNEY_MAX_SPAN
    next_id = _reserve_ids(Interaction, sum(chunk))
    touches: list[_Touch] = []
    journeys: list[tuple[int, JourneyDraft]] = []
    for customer_id, n in zip(customer_ids, chunk, strict=True):
        book = JourneyBook([], quiet_gap=gap, max_span=span)
        mood = rng.choice((-1, 0, 0, 1, 1, 1))
        rows: list[_Touch] = []
        for at in _times(n, rng, world.start, world.now):
            channel = rng.choices(channels, weights)[0]
            stage_id, intensity = world.defaults[channel]
            if rng.random() < 0.25:
                stage_id = rng.choice(list(world.stage_keys))
            valence = -rng.choice((1, 2)) if channel == "complaint" else _valence(mood, rng)
            draft = book.assign(at, world.stage_keys[stage_id])
            rows.append(_Touch(next_id + len(rows), customer_id, draft, channel, at, stage_id, valence, intensity))
        # Most complaints are recovered by the next touchpoint, a very good one.
        for complaint, reply in itertools.pairwise(rows):
            if complaint.channel == "complaint" and reply.channel != "complaint" and rng.random() < 0.6:
                reply.valence, reply.resolves = 2, complaint.id
        touches += rows
        journeys += [(customer_id, d) for d in book.journeys]
        next_id += len(rows)
    return touches, journeys


def _write_journeys(world: _World, journeys: list[tuple[int, JourneyDraft]]) -> dict[int, int]:
    """Copies the journeys in; their ids by the draft's identity."""
    stamp = world.now.isoformat()
    first_journey = _reserve_ids(Journey, len(journeys))
    journey_ids = {id(d): first_journey + k for k, (_, d) in enumerate(journeys)}
    journey_rows = _Writer()
    for customer_id, d in journeys:
        closed = d.closed_at.isoformat() if d.closed_at else None
        journey_rows.row(
            journey_ids[id(d)], customer_id, "", d.started_at.isoformat(), d.last_interaction_at.isoformat(),
            closed, d.close_reason, d.interaction_count, stamp,
        )  # fmt: skip
    journey_rows.copy(
        Journey._meta.db_table,
        "id, customer_id, ref, started_at, last_interaction_at, closed_at, close_reason, interaction_count, created_at",
    )
    return journey_ids


def _write_touches(world: _World, touches: list[_Touch], journey_ids: dict[int, int]) -> None:
    stamp = world.now.isoformat()
    touch_rows = _Writer()
    for t in touches:
        direction = "outbound" if t.channel == "newsletter" else "inbound"
        touch_rows.row(
            t.id, t.customer_id, journey_ids[id(t.journey)], t.channel, direction, t.at.isoformat(),
            world.maybe_staff(0.7), t.stage_id, t.valence, t.intensity, "", None, "", t.resolves, "f", SOURCE,
            f"s-{t.id}", stamp, stamp,
        )  # fmt: skip
    touch_rows.copy(
        Interaction._meta.db_table,
        "id, customer_id, journey_id, channel, direction, occurred_at, staff_id, stage_id, valence, intensity, "
        "summary, rating, rating_scale, resolves_id, resolved_on_first_contact, source, external_id, "
        "created_at, updated_at",
    )


@dataclass
class _Touch:
    id: int
    customer_id: int
    journey: JourneyDraft
    channel: str
    at: datetime
    stage_id: int
    valence: int
    intensity: int
    resolves: int | None = None


def _valence(mood: int, rng: random.Random) -> int:
    return max(-2, min(2, round(rng.gauss(0.4 + 0.6 * mood, 0.9))))
