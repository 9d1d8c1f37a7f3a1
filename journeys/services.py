"""Journey writes: load the journeys a batch can touch, apply journeys/rules.py, save.

The caller holds the row locks of the customers involved, so two writers for one customer
never assign journeys at the same time.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import F, Q

from journeys.models import Journey
from journeys.rules import JourneyBook, JourneyDraft

SAVED_FIELDS = ["started_at", "last_interaction_at", "closed_at", "close_reason", "interaction_count"]


def journey_books(*, earliest: dict[int, datetime], refs: dict[int, set[str]]) -> dict[int, JourneyBook]:
    """Books for these customers, holding every journey the rules may consult or change
    for touchpoints from `earliest` on: the open one, those still active within the quiet
    gap and longest span of that time, and the named ones asked for."""
    reach = settings.JOURNEY_QUIET_GAP + settings.JOURNEY_MAX_SPAN
    # One coarse query for the whole batch (a clause per customer makes the query itself
    # the bottleneck), narrowed per customer below.
    query = Q(ref="", closed_at__isnull=True) | Q(last_interaction_at__gte=min(earliest.values()) - reach)
    wanted_refs = {ref for customer_refs in refs.values() for ref in customer_refs}
    if wanted_refs:
        query |= Q(ref__in=wanted_refs)
    drafts: dict[int, list[JourneyDraft]] = defaultdict(list)
    for journey in Journey.objects.filter(customer_id__in=earliest.keys()).filter(query):
        if journey.ref:
            if journey.ref not in refs.get(journey.customer_id, set()):
                continue
        elif journey.closed_at is not None and journey.last_interaction_at < earliest[journey.customer_id] - reach:
            continue
        drafts[journey.customer_id].append(
            JourneyDraft(
                ref=journey.ref,
                started_at=journey.started_at,
                last_interaction_at=journey.last_interaction_at,
                closed_at=journey.closed_at,
                close_reason=journey.close_reason,
                interaction_count=journey.interaction_count,
                pk=journey.pk,
            )
        )
    return {
        customer_id: JourneyBook(
            drafts[customer_id], quiet_gap=settings.JOURNEY_QUIET_GAP, max_span=settings.JOURNEY_MAX_SPAN
        )
        for customer_id in earliest
    }


def journey_of(customer_id: int, draft: JourneyDraft) -> Journey:
    """The row of a journey the rules drew (its pk once saved)."""
    return Journey(pk=draft.pk, customer_id=customer_id, ref=draft.ref, **{n: getattr(draft, n) for n in SAVED_FIELDS})


def journeys_save(books: dict[int, JourneyBook]) -> None:
    """Write back what the rules changed: closes first, so the one-open-journey
    constraint holds at every statement, then the new journeys (their pks filled in)."""
    changed = [
        journey_of(cid, d) for cid, book in books.items() for d in book.journeys if d.changed and d.pk is not None
    ]
    # INSERT ... ON CONFLICT (id) DO UPDATE: one statement, where bulk_update builds a CASE
    # expression per field and row that costs more than the whole insert.
    Journey.objects.bulk_create(
        changed, update_conflicts=True, unique_fields=["id"], update_fields=SAVED_FIELDS, batch_size=1000
    )
    new_drafts = [(cid, d) for cid, book in books.items() for d in book.journeys if d.pk is None]
    created = Journey.objects.bulk_create([journey_of(cid, d) for cid, d in new_drafts], batch_size=500)
    for (_, draft), journey in zip(new_drafts, created, strict=True):
        draft.pk = journey.pk
    for book in books.values():
        for draft in book.journeys:
            draft.changed = False


def journey_forget_interactions(*, journey_ids: Iterable[int]) -> None:
    """Count deleted touchpoints out; a journey left empty is deleted with them."""
    journey_ids = list(journey_ids)
    for journey_id in journey_ids:
        Journey.objects.filter(pk=journey_id).update(interaction_count=F("interaction_count") - 1)
    Journey.objects.filter(pk__in=list(journey_ids), interaction_count__lte=0).delete()
