"""Recording touchpoints: one implementation for a batch of any size (one touchpoint is a
batch of one), idempotent on (source, external_id).

A batch is validated without per-item queries, customers are locked (in id order, so two
batches never deadlock), journeys assigned in memory (journeys/rules.py) and the rows
inserted set-based. Locking the customer rows serialises the writes of one customer
(journey assignment, the idempotency check, the version counters the memory engine
reads) while writes for different customers run in parallel. What follows a write (memory,
dashboards, webhooks) is announced to the stages of pipeline/stages.py.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from config.announce import announce
from customers.models import Customer
from interactions.models import Direction, Interaction
from interactions.services.customer_refs import customers_for_items
from interactions.services.items import (
    ItemResult,
    Key,
    Pending,
    RecordResult,
    Results,
    TouchpointIn,
    error,
    stored_by_key,
)
from interactions.services.recoveries import link_recoveries
from interactions.services.validation import StageDefaults, validate_touchpoint
from interactions.signals import TouchpointsWritten, touchpoints_written
from journeys.models import JourneyStage
from journeys.services import journey_books, journey_of, journeys_save


def bump_versions(customer_ids: Sequence[int], *, rewrite: bool) -> None:
    """Mark these customers' histories as changed (`rewrite`: not only appended to), so
    their memories are known to be behind until refreshed."""
    changes: dict[str, Any] = {"history_version": F("history_version") + 1}
    if rewrite:
        changes["rewrite_version"] = F("rewrite_version") + 1
    Customer.objects.filter(pk__in=customer_ids).update(**changes)


def _validate_items(items: Sequence[TouchpointIn]) -> tuple[Results, list[Key | None]]:
    """Field errors of every item, and every item's key where the key itself is valid."""
    results: Results = [None] * len(items)
    keys: list[Key | None] = [None] * len(items)
    for index, item in enumerate(items):
        errors = validate_touchpoint(
            channel=item.channel,
            valence=item.valence,
            intensity=item.intensity,
            occurred_at=item.occurred_at,
            direction=item.direction,
            summary=item.summary,
            rating=item.rating,
            rating_scale=item.rating_scale,
            source=item.source,
            external_id=item.external_id,
        )
        if "source" not in errors and "external_id" not in errors:
            keys[index] = (item.source.strip(), item.external_id.strip())
        if errors:
            results[index] = ItemResult("error", errors=errors)
    return results, keys


def _answer_refused_repeats(keys: list[Key | None], results: Results, stored_now: set[Key]) -> None:
    """A refused item whose key was stored before answers "duplicate", even when the
    repeat is malformed or names what no longer exists: a retry must never turn a
    success into an error. (Only refused items are looked up here: the items stored or
    answered as duplicates were checked under the customers' locks.)"""
    refused = {
        key
        for key, result in zip(keys, results, strict=True)
        if key is not None and key not in stored_now and result is not None and result.status == "error"
    }
    if not refused:
        return
    existing = stored_by_key(refused)
    for index, key in enumerate(keys):
        if key in existing:
            results[index] = ItemResult("duplicate", interaction=existing[key])


def _pending_items(
    items: Sequence[TouchpointIn],
    keys: list[Key | None],
    results: Results,
    customers: dict[int, Customer],
    defaults: StageDefaults,
) -> tuple[list[Pending], dict[Key, int]]:
    """The items to store (the first of each key, at its stage), and the index of each
    key's first item. A repeat within the batch is answered once the first is stored."""
    pending: list[Pending] = []
    first_of_key: dict[Key, int] = {}
    for index, item in enumerate(items):
        if results[index] is not None:
            continue
        key = keys[index]
        assert key is not None  # noqa: S101 - no errors means the key is valid
        if key in first_of_key:
            continue
        stage, stage_error = defaults.stage(item.stage, item.channel)
        if stage is None:
            results[index] = error("stage", stage_error)
            continue
        first_of_key[key] = index
        pending.append(Pending(index, item, customers[index], stage, key[0], key[1]))
    return pending, first_of_key


@transaction.atomic
def interactions_record_many(
    *,
    items: Sequence[TouchpointIn],
    refresh_memory: bool = True,
    notify_webhooks: bool = True,
    _retry: bool = True,
) -> list[ItemResult]:
    """Record a batch of touchpoints: every valid one is stored, every invalid one gets
    its field errors, and a key (source, external_id) already stored, or repeated in the
    batch, answers `duplicate` with the stored interaction. Results are in item order.

    `notify_webhooks=False` is for history imports: old touchpoints are not news."""
    results, keys = _validate_items(items)
    defaults = StageDefaults()
    customers, new_customers = customers_for_items(items, results)
    pending, first_of_key = _pending_items(items, keys, results, customers, defaults)
    link_recoveries(pending, results)
    pending = _lock_and_check([p for p in pending if results[p.index] is None], results)
    if pending:
        try:
            with transaction.atomic():
                _store(pending, defaults)
        except IntegrityError:
            # The same key stored for another customer by a parallel batch (we did not
            # hold its lock). Once more: the re-check now sees it as a duplicate.
            if not _retry:
                raise
            return interactions_record_many(
                items=items, refresh_memory=refresh_memory, notify_webhooks=notify_webhooks, _retry=False
            )
        _announce_created(pending, results, refresh_memory=refresh_memory, news=notify_webhooks)
    _answer_refused_repeats(keys, results, stored_now={(p.source, p.external_id) for p in pending})
    # A customer created for touchpoints that were all refused is not kept: nothing
    # half-written. Still uncommitted, so no other request can be using it.
    unused = new_customers - {p.customer.pk for p in pending}
    if unused:
        Customer.objects.filter(pk__in=unused).delete()
    return _answer_repeats(keys, first_of_key, results)


def _lock_and_check(pending: list[Pending], results: Results) -> list[Pending]:
    """Lock the customers in id order (no deadlock between batches), then look for the
    keys: a request that held these locks before us has committed, and READ COMMITTED
    shows its rows. The items still to store."""
    customer_ids = sorted({p.customer.pk for p in pending})
    if not customer_ids:
        return pending
    list(Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk").values_list("pk"))
    stored = stored_by_key({(p.source, p.external_id) for p in pending})
    for p in pending:
        if (p.source, p.external_id) in stored:
            results[p.index] = ItemResult("duplicate", interaction=stored[(p.source, p.external_id)])
    return [p for p in pending if results[p.index] is None]


def _announce_created(pending: list[Pending], results: Results, *, refresh_memory: bool, news: bool) -> None:
    stored = [p.interaction for p in pending if p.interaction is not None]
    for p in pending:
        results[p.index] = ItemResult("created", interaction=p.interaction)
    touched = sorted({p.customer.pk for p in pending})
    bump_versions(touched, rewrite=False)
    announce(
        touchpoints_written,
        sender=Interaction,
        written=TouchpointsWritten(
            before=(), after=stored, customer_ids=touched, news=news, refresh_memory=refresh_memory
        ),
    )


def _answer_repeats(keys: list[Key | None], first_of_key: dict[Key, int], results: Results) -> list[ItemResult]:
    """A key repeated within the batch answers as its first item did (a duplicate of the
    row it stored), and every result in item order."""
    for index, key in enumerate(keys):
        if results[index] is None and key is not None:
            first = results[first_of_key[key]]
            assert first is not None  # noqa: S101 - the first of a key always has a result
            results[index] = ItemResult("duplicate", interaction=first.interaction) if first.interaction else first
    return [r for r in results if r is not None]


def _assign_journeys(pending: list[Pending]) -> None:
    by_customer: dict[int, list[Pending]] = defaultdict(list)
    for p in pending:
        by_customer[p.customer.pk].append(p)
    books = journey_books(
        earliest={cid: min(p.item.occurred_at for p in group) for cid, group in by_customer.items()},
        refs={
            cid: {p.item.journey_ref.strip() for p in group if isinstance(p.item.journey_ref, str)} - {""}
            for cid, group in by_customer.items()
        },
    )
    for customer_id, group in by_customer.items():
        for p in sorted(group, key=lambda p: (p.item.occurred_at, p.index)):
            ref = p.item.journey_ref.strip() if isinstance(p.item.journey_ref, str) else ""
            p.journey = books[customer_id].assign(p.item.occurred_at, p.stage.key, ref)
    journeys_save(books)


def _row(p: Pending, defaults: StageDefaults) -> Interaction:
    item = p.item
    assert p.journey is not None  # noqa: S101 - assigned and saved first
    assert p.journey.pk is not None  # noqa: S101
    return Interaction(
        customer=p.customer,
        # The journey's row, not only its id: the answer to the request shows its ref.
        journey=journey_of(p.customer.pk, p.journey),
        channel=item.channel,
        direction=item.direction,
        occurred_at=item.occurred_at,
        staff=item.staff,
        stage=p.stage,
        valence=item.valence,
        intensity=item.intensity if item.intensity is not None else defaults.intensity(item.channel),
        summary=item.summary,
        rating=item.rating,
        rating_scale=item.rating_scale or "",
        resolves_id=p.resolves_pk,
        resolved_on_first_contact=bool(item.resolved_on_first_contact),
        source=p.source,
        external_id=p.external_id,
    )


def _store(pending: list[Pending], defaults: StageDefaults) -> None:
    _assign_journeys(pending)
    for p in pending:
        p.interaction = _row(p, defaults)
    Interaction.objects.bulk_create([p.interaction for p in pending if p.interaction], batch_size=1000)
    # A recovery of a complaint earlier in the same batch learns its id only now.
    in_batch = [p for p in pending if p.resolves_in_batch is not None]
    if in_batch:
        by_index = {p.index: p for p in pending}
        for p in in_batch:
            complaint = by_index[p.resolves_in_batch]  # type: ignore[index]
            assert p.interaction is not None  # noqa: S101 - both built above
            assert complaint.interaction is not None  # noqa: S101
            p.interaction.resolves_id = complaint.interaction.pk
        Interaction.objects.bulk_update([p.interaction for p in in_batch if p.interaction], ["resolves"])


def interaction_record(
    *,
    customer: Customer,
    channel: str,
    valence: int,
    occurred_at: datetime,
    source: str,
    external_id: str,
    summary: str = "",
    stage: JourneyStage | str | None = None,
    intensity: int | None = None,
    direction: str = Direction.INBOUND,
    staff: User | None = None,
    rating: int | None = None,
    rating_scale: str = "",
    resolves: Interaction | int | str | None = None,
    resolved_on_first_contact: bool = False,
    journey_ref: str = "",
    refresh_memory: bool = True,
) -> RecordResult:
    """Store one touchpoint, or return the one already stored under (source, external_id).

    A repeat of a stored key returns the stored interaction unchanged (created=False):
    retries by other systems, double-clicks and races between identical requests never
    create a second row. Invalid input raises ValidationError with field errors.
    """
    [result] = interactions_record_many(
        items=[
            TouchpointIn(
                customer=customer,
                channel=channel,
                valence=valence,
                occurred_at=occurred_at,
                source=source,
                external_id=external_id,
                summary=summary,
                stage=stage,
                intensity=intensity,
                direction=direction,
                staff=staff,
                rating=rating,
                rating_scale=rating_scale,
                resolves=resolves,
                resolved_on_first_contact=resolved_on_first_contact,
                journey_ref=journey_ref,
            )
        ],
        refresh_memory=refresh_memory,
    )
    if result.status == "error":
        raise ValidationError(result.errors)
    assert result.interaction is not None  # noqa: S101 - created and duplicate carry the row
    return RecordResult(result.interaction, created=result.status == "created")
