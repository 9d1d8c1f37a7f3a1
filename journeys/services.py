"""Which journey (episode) a touchpoint belongs to.

Rules, applied while the caller holds the customer's row lock (so two touchpoints for
one customer never open two journeys at once):
1. A touchpoint with a `journey_ref` (an order, a ticket) joins that journey, created on
   first use. Named journeys are never chosen automatically.
2. Otherwise it joins the automatic journey that was under way when it happened: the
   latest one started at or before it, if that journey was not yet closed by then, the
   customer was not silent for longer than the quiet gap, and the journey has not yet
   lasted the longest episode span. A late arrival from shortly before the next journey
   began (within the quiet gap, within the span) joins that journey instead.
3. Otherwise a new automatic journey opens, and the one open before it is closed (quiet
   gap or longest span). A touchpoint older than an existing later journey opens a
   journey that is closed at once ("superseded"), so only the latest automatic journey
   is ever open (a database constraint holds this).
4. An evaluation-stage touchpoint closes its journey: the customer has looked back on it.
"""

from datetime import datetime

from django.conf import settings
from django.db.models import F

from customers.models import Customer
from journeys.models import EVALUATION, CloseReason, Journey, JourneyStage


def _accepts(journey: Journey, occurred_at: datetime) -> bool:
    if journey.closed_at is not None and occurred_at > journey.closed_at:
        return False
    if occurred_at - journey.last_interaction_at > settings.JOURNEY_QUIET_GAP:
        return False
    return occurred_at - journey.started_at <= settings.JOURNEY_MAX_SPAN


def _close(journey: Journey, at: datetime, reason: CloseReason) -> None:
    journey.closed_at = max(at, journey.started_at)
    journey.close_reason = reason
    journey.save(update_fields=["closed_at", "close_reason"])


def _auto_journey(customer: Customer, occurred_at: datetime) -> Journey:
    auto = Journey.objects.filter(customer=customer, ref="")
    candidate = auto.filter(started_at__lte=occurred_at).order_by("-started_at", "-id").first()
    if candidate is not None and _accepts(candidate, occurred_at):
        return candidate
    # A late arrival from just before the next journey began belongs to that episode;
    # the journey's start moves back to it.
    following = auto.filter(started_at__gt=occurred_at).order_by("started_at", "id").first()
    if (
        following is not None
        and following.started_at - occurred_at <= settings.JOURNEY_QUIET_GAP
        and following.last_interaction_at - occurred_at <= settings.JOURNEY_MAX_SPAN
    ):
        return following

    later_exists = auto.filter(started_at__gt=occurred_at).exists()
    if not later_exists:
        open_journey = auto.filter(closed_at__isnull=True).first()
        if open_journey is not None:
            quiet = occurred_at - open_journey.last_interaction_at > settings.JOURNEY_QUIET_GAP
            _close(
                open_journey,
                open_journey.last_interaction_at,
                CloseReason.QUIET_GAP if quiet else CloseReason.MAX_SPAN,
            )
    journey = Journey(customer=customer, started_at=occurred_at, last_interaction_at=occurred_at)
    if later_exists:
        journey.closed_at, journey.close_reason = occurred_at, CloseReason.SUPERSEDED
    journey.save()
    return journey


def journey_assign(*, customer: Customer, occurred_at: datetime, stage: JourneyStage, journey_ref: str = "") -> Journey:
    """Find or open the journey for a new touchpoint and count it in. Caller holds the lock."""
    journey_ref = journey_ref.strip()
    if journey_ref:
        journey, created = Journey.objects.get_or_create(
            customer=customer,
            ref=journey_ref,
            defaults={"started_at": occurred_at, "last_interaction_at": occurred_at},
        )
    else:
        journey = _auto_journey(customer, occurred_at)

    journey.started_at = min(journey.started_at, occurred_at)
    journey.last_interaction_at = max(journey.last_interaction_at, occurred_at)
    Journey.objects.filter(pk=journey.pk).update(
        started_at=journey.started_at,
        last_interaction_at=journey.last_interaction_at,
        interaction_count=F("interaction_count") + 1,
    )
    if stage.key == EVALUATION and journey.closed_at is None:
        _close(journey, occurred_at, CloseReason.EVALUATION)
    journey.refresh_from_db()
    return journey


def journey_forget_interaction(*, journey: Journey) -> None:
    """Count a deleted touchpoint out; a journey left empty is deleted with it."""
    Journey.objects.filter(pk=journey.pk).update(interaction_count=F("interaction_count") - 1)
    journey.refresh_from_db(fields=["interaction_count"])
    if journey.interaction_count <= 0:
        journey.delete()
