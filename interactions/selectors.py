"""Reads of touchpoints that several pages and apps share: the recovery queue's rule, a
customer's timeline, complaints and journeys, the stages a journey went through."""

from datetime import timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from customers.models import Customer
from interactions.models import Channel, Interaction
from journeys.models import Journey

# NOT EXISTS, not a LEFT JOIN ... IS NULL: PostgreSQL estimates the join as one row and
# reads every complaint; the anti-join lets a LIMIT stop early (730 ms -> 1 ms at 5M).
UNRECOVERED = Q(valence__lt=0, resolved_on_first_contact=False) & ~Exists(
    Interaction.objects.filter(resolves=OuterRef("pk"))
)

COMPLAINT = Q(channel=Channel.COMPLAINT)

BAD_ENDING = Q(pk=F("journey__end_interaction_id"), journey__closed_at__isnull=True)


def waiting_for_recovery() -> QuerySet[Interaction]:
    """Complaints, and bad endings of journeys still open, that nobody has recovered yet:
    the one rule behind the customer page and the dashboard's recovery queue (seeds/002)."""
    return Interaction.objects.filter(COMPLAINT | BAD_ENDING, UNRECOVERED)


def unrecovered_complaints() -> QuerySet[Interaction]:
    """The first half of waiting_for_recovery(), followed by the complaints' own index."""
    return Interaction.objects.filter(COMPLAINT, UNRECOVERED)


def journeys_ending_badly() -> QuerySet[Journey]:
    """The second half, from the journeys' side: open journeys whose ending is bad, not a
    complaint (those are in the first half) and not recovered. PostgreSQL cannot estimate
    "this touchpoint ends its journey" from the touchpoints' side and reads them all; from
    the open journeys, by their last touch, it stops after the first few (600 ms -> 2 ms)."""
    return (
        Journey.objects.filter(
            closed_at__isnull=True, end_interaction__valence__lt=0, end_interaction__resolved_on_first_contact=False
        )
        .exclude(end_interaction__channel=Channel.COMPLAINT)
        .filter(~Exists(Interaction.objects.filter(resolves=OuterRef("end_interaction_id"))))
    )


def open_complaints(customer: Customer) -> QuerySet[Interaction]:
    return (
        waiting_for_recovery().filter(customer=customer).select_related("staff", "stage").order_by("occurred_at", "id")
    )


def customer_timeline(customer: Customer, *, channel: str = "", stage: str = "") -> QuerySet[Interaction]:
    """Newest first, for paging (the timeline index serves any page of it)."""
    queryset = Interaction.objects.filter(customer=customer)
    if channel:
        queryset = queryset.filter(channel=channel)
    if stage:
        queryset = queryset.filter(stage__key=stage)
    return queryset.select_related("stage", "staff", "resolves").order_by("-occurred_at", "-id")


def journey_stage_keys(journey_ids: list[int]) -> dict[int, set[str]]:
    """Which of O'Connell's stages each journey went through (one query)."""
    visited: dict[int, set[str]] = {jid: set() for jid in journey_ids}
    rows = (
        Interaction.objects.filter(journey_id__in=journey_ids)
        .order_by()
        .values_list("journey_id", "stage__key")
        .distinct()
    )
    for journey_id, key in rows:
        visited[journey_id].add(key)
    return visited


def lane_interactions(customer: Customer, *, days: int = 365, limit: int = 400) -> list[Interaction]:
    since = timezone.now() - timedelta(days=days)
    rows = (
        Interaction.objects.filter(customer=customer, occurred_at__gte=since)
        .only("occurred_at", "channel", "valence", "intensity")  # what a dot needs, nothing more
        .order_by("-occurred_at", "-id")
    )
    return list(reversed(rows[:limit]))


def customer_journeys(customer: Customer, *, limit: int = 20) -> QuerySet[Journey]:
    return Journey.objects.filter(customer=customer).order_by("-started_at", "-id")[:limit]
