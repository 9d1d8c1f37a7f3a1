"""What each kind of trigger finds: the customers it holds for now, each with the reason in
words. One set-based query per playbook (and per batch of customers), never a loop over
customers, so that evaluating every playbook for 100k customers takes seconds
(bench/playbooks.py)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet

from customers.models import Customer
from interactions.models import Channel, Interaction, RatingScale
from interactions.selectors import unrecovered_complaints
from journeys.models import Journey
from memory.models import Band, CustomerMemory
from playbooks.models import Playbook, TriggerKind

# A complaint older than this is history: it is in the recovery queue, not news for a task.
COMPLAINT_LOOKBACK = timedelta(days=30)
# What a survey answer says: NPS 0-6 and CSAT 1-2 are detractors, NPS 9-10 and CSAT 5 promoters.
DETRACTOR_ANSWER = Q(rating_scale=RatingScale.NPS, rating__lte=6) | Q(rating_scale=RatingScale.CSAT, rating__lte=2)
PROMOTER_ANSWER = Q(rating_scale=RatingScale.NPS, rating__gte=9) | Q(rating_scale=RatingScale.CSAT, rating=5)


@dataclass(frozen=True)
class Finding:
    customer_id: int
    subject_key: str  # "" while a state holds; the event's key ("journey:12") otherwise
    reason: str


def customers_in_scope(playbook: Playbook, customer_ids: Iterable[int] | None) -> QuerySet[Customer]:
    """The customers a playbook's conditions admit (churned customers never get tasks)."""
    customers = Customer.objects.filter(churned_at__isnull=True)
    if customer_ids is not None:
        customers = customers.filter(pk__in=list(customer_ids))
    if playbook.segment_id is not None:
        customers = customers.filter(segment_id=playbook.segment_id)
    if playbook.owner_id is not None:
        customers = customers.filter(owner_id=playbook.owner_id)
    if playbook.max_score is not None:
        customers = customers.filter(memory__score__lte=playbook.max_score)
    return customers


def _touch_conditions(playbook: Playbook, prefix: str = "") -> Q:
    """The channel and stage conditions, on the touchpoint behind the trigger."""
    condition = Q()
    if playbook.channel:
        condition &= Q(**{f"{prefix}channel": playbook.channel})
    if playbook.stage_id is not None:
        condition &= Q(**{f"{prefix}stage_id": playbook.stage_id})
    return condition


def _first_per_customer(rows: Iterable[Finding]) -> dict[int, Finding]:
    found: dict[int, Finding] = {}
    for finding in rows:
        found.setdefault(finding.customer_id, finding)
    return found


def _at_risk(playbook: Playbook, customers: QuerySet[Customer], now: datetime) -> dict[int, Finding]:
    rows = CustomerMemory.objects.filter(band=Band.AT_RISK, customer__in=customers).values_list("customer_id", "score")
    return {pk: Finding(pk, "", f"Memory score {score:.0f}: in the at-risk band.") for pk, score in rows}


def _score_drop(playbook: Playbook, customers: QuerySet[Customer], now: datetime) -> dict[int, Finding]:
    days = 7 if playbook.window_days <= 7 else 30
    trend = f"trend_{days}d"
    rows = CustomerMemory.objects.filter(customer__in=customers, **{f"{trend}__lte": -playbook.drop_points})
    return {
        pk: Finding(pk, "", f"Memory score fell {-change:.0f} points in {days} days, to {score:.0f}.")
        for pk, score, change in rows.values_list("customer_id", "score", trend)
    }


def _complaint_unrecovered(playbook: Playbook, customers: QuerySet[Customer], now: datetime) -> dict[int, Finding]:
    waiting = (
        unrecovered_complaints()
        .filter(
            _touch_conditions(playbook),
            customer__in=customers,
            occurred_at__lt=now - timedelta(hours=playbook.wait_hours),
            occurred_at__gte=now - COMPLAINT_LOOKBACK,
        )
        .order_by("customer_id", "occurred_at", "id")
        .values_list("customer_id", "occurred_at", "summary")
    )
    return _first_per_customer(
        Finding(
            pk,
            "",
            f"Complaint of {at:%-d %b %H:%M} has waited {int((now - at).total_seconds() // 3600)} hours "
            f"for recovery (limit {playbook.wait_hours} h): {summary[:120] or 'no summary'}",
        )
        for pk, at, summary in waiting
    )


def _journey_ended_badly(playbook: Playbook, customers: QuerySet[Customer], now: datetime) -> dict[int, Finding]:
    ended = (
        Journey.objects.filter(
            _touch_conditions(playbook, "end_interaction__"),
            customer__in=customers,
            closed_at__gte=now - timedelta(days=playbook.window_days),
            end_interaction__valence__lt=0,
        )
        .order_by("customer_id", "-closed_at", "-id")
        .values_list("customer_id", "id", "started_at", "closed_at", "end_interaction__channel")
    )
    return _first_per_customer(
        Finding(
            pk,
            f"journey:{journey_id}",
            f"Their journey of {started:%-d %b} to {closed:%-d %b} ended on a bad "
            f"{Channel(channel).label.lower()}: the end is what they will remember.",
        )
        for pk, journey_id, started, closed, channel in ended
    )


def _negative_last_touch(playbook: Playbook, customers: QuerySet[Customer], now: datetime) -> dict[int, Finding]:
    later = Interaction.objects.filter(customer_id=OuterRef("customer_id"), occurred_at__gt=OuterRef("occurred_at"))
    latest_bad = (
        Interaction.objects.filter(
            _touch_conditions(playbook),
            customer__in=customers,
            valence__lt=0,
            occurred_at__lte=now - timedelta(hours=playbook.wait_hours),
            occurred_at__gte=now - timedelta(days=playbook.window_days),
        )
        .exclude(Exists(later))
        .order_by("customer_id", "-occurred_at", "-id")
        .values_list("customer_id", "id", "occurred_at", "channel")
    )
    return _first_per_customer(
        Finding(
            pk,
            f"interaction:{touch_id}",
            f"Their latest touch ({Channel(channel).label.lower()}, {at:%-d %b %H:%M}) was negative and nothing "
            f"followed for {int((now - at).total_seconds() // 3600)} hours: end on a high.",
        )
        for pk, touch_id, at, channel in latest_bad
    )


def _survey(answer: Q, word: str) -> Callable[[Playbook, QuerySet[Customer], datetime], dict[int, Finding]]:
    def find(playbook: Playbook, customers: QuerySet[Customer], now: datetime) -> dict[int, Finding]:
        answers = (
            Interaction.objects.filter(
                answer,
                _touch_conditions(playbook),
                channel=Channel.SURVEY,
                customer__in=customers,
                occurred_at__gte=now - timedelta(days=playbook.window_days),
            )
            .order_by("customer_id", "-occurred_at", "-id")
            .values_list("customer_id", "id", "occurred_at", "rating", "rating_scale")
        )
        return _first_per_customer(
            Finding(
                pk,
                f"interaction:{touch_id}",
                f"Answered a survey on {at:%-d %b} with {scale.upper()} {rating}: a {word}.",
            )
            for pk, touch_id, at, rating, scale in answers
        )

    return find


FINDERS: dict[str, Callable[[Playbook, QuerySet[Customer], datetime], dict[int, Finding]]] = {
    TriggerKind.AT_RISK: _at_risk,
    TriggerKind.SCORE_DROP: _score_drop,
    TriggerKind.COMPLAINT_UNRECOVERED: _complaint_unrecovered,
    TriggerKind.JOURNEY_ENDED_BADLY: _journey_ended_badly,
    TriggerKind.NEGATIVE_LAST_TOUCH: _negative_last_touch,
    TriggerKind.DETRACTOR: _survey(DETRACTOR_ANSWER, "detractor"),
    TriggerKind.PROMOTER: _survey(PROMOTER_ANSWER, "promoter"),
}


def findings(playbook: Playbook, *, now: datetime, customer_ids: Iterable[int] | None = None) -> dict[int, Finding]:
    """Customer id -> why this playbook holds for them now (among `customer_ids`, or all)."""
    return FINDERS[playbook.kind](playbook, customers_in_scope(playbook, customer_ids), now)
