"""Writes of touchpoints: record one or many (idempotent), change, delete.

One implementation records a batch of any size; recording a single touchpoint is a batch
of one. A batch is validated without per-item queries, customers are locked (in id order,
so two batches never deadlock), journeys assigned in memory (journeys/rules.py) and the
rows inserted set-based. Locking the customer rows serialises the writes of one customer
(journey assignment, the idempotency re-check, the version counters the memory engine
reads) while writes for different customers run in parallel.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from audit.models import Action
from audit.services import audit_record
from config.validation import Errors, moment_errors, retry_key_errors
from customers.models import Customer
from interactions.models import (
    RATING_RANGES,
    SUMMARY_MAX_LENGTH,
    Channel,
    ChannelDefault,
    Direction,
    Interaction,
    RatingScale,
)
from journeys.models import JourneyStage
from journeys.rules import JourneyDraft
from journeys.services import journey_books, journey_forget_interactions, journeys_save

CHANGEABLE_FIELDS = frozenset(
    {
        "summary",
        "valence",
        "intensity",
        "stage",
        "channel",
        "direction",
        "staff",
        "rating",
        "rating_scale",
        "resolved_on_first_contact",
    }
)
NAME_MAX_LENGTH = 200
REF_MAX_LENGTH = 100


@dataclass
class TouchpointIn:
    """One touchpoint to record, as given (not yet validated).

    The customer is given as an object, an id, or a ref (created when new and a name is
    given). `resolves` is the complaint recovered: an Interaction, its id, or its
    external id from the same source (also one earlier in the same batch).
    """

    channel: Any
    valence: Any
    occurred_at: Any
    source: Any
    external_id: Any
    summary: Any = ""
    stage: Any = None
    intensity: Any = None
    direction: Any = Direction.INBOUND
    staff: User | None = None
    rating: Any = None
    rating_scale: Any = ""
    resolves: Any = None
    resolved_on_first_contact: Any = False
    journey_ref: Any = ""
    customer: Customer | None = None
    customer_id: Any = None
    customer_ref: Any = ""
    customer_name: Any = ""


@dataclass
class ItemResult:
    status: Literal["created", "duplicate", "error"]
    interaction: Interaction | None = None
    errors: Errors = field(default_factory=dict)


@dataclass(frozen=True)
class RecordResult:
    interaction: Interaction
    created: bool


def _text(value: object) -> str:
    """An optional text field as given: stripped, or empty when absent or not text."""
    return value.strip() if isinstance(value, str) else ""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_touchpoint(
    *,
    channel: object,
    valence: object,
    intensity: object,
    occurred_at: object,
    direction: object,
    summary: object,
    rating: object,
    rating_scale: object,
    source: object,
    external_id: object,
    now: datetime | None = None,
) -> Errors:
    """Field errors of one touchpoint, without touching the database."""
    errors: Errors = {}
    if channel not in Channel.values:
        errors["channel"] = [f"Unknown channel {channel!r}; use one of: {', '.join(Channel.values)}."]
    if not _is_int(valence) or not -2 <= valence <= 2:  # type: ignore[operator]
        errors["valence"] = ["Give a whole number from -2 (very bad) to 2 (very good)."]
    if intensity is not None and (not _is_int(intensity) or not 1 <= intensity <= 5):  # type: ignore[operator]
        errors["intensity"] = ["Give a whole number from 1 (faint) to 5 (unforgettable), or leave it out."]
    if moment := moment_errors(occurred_at, what="a touchpoint", now=now):
        errors["occurred_at"] = moment
    if direction not in Direction.values:
        errors["direction"] = [f"Unknown direction {direction!r}; use inbound or outbound."]
    if not isinstance(summary, str) or len(summary) > SUMMARY_MAX_LENGTH:
        errors["summary"] = [f"Give text of at most {SUMMARY_MAX_LENGTH} characters."]
    if rating is None:
        if rating_scale:
            errors["rating"] = ["A rating scale was given without a rating."]
    elif rating_scale not in RatingScale.values:
        errors["rating_scale"] = ["Say which scale the rating is on: csat (1-5) or nps (0-10)."]
    else:
        low, high = RATING_RANGES[RatingScale(rating_scale)]
        if not _is_int(rating) or not low <= rating <= high:  # type: ignore[operator]
            errors["rating"] = [f"A {rating_scale} rating is a whole number from {low} to {high}."]
    errors.update(retry_key_errors(source, external_id))
    return errors


class _Reference:
    """What a batch needs to know of stages and channel defaults: two small queries."""

    def __init__(self) -> None:
        self.stages = {stage.key: stage for stage in JourneyStage.objects.all()}
        self.stages_by_id = {stage.pk: stage for stage in self.stages.values()}
        self.defaults = {d.channel: d for d in ChannelDefault.objects.all()}

    def stage(self, given: object, channel: str) -> tuple[JourneyStage | None, str]:
        if isinstance(given, JourneyStage):
            return given, ""
        if given not in (None, ""):
            if isinstance(given, str) and given in self.stages:
                return self.stages[given], ""
            return None, f"Unknown stage {given!r}; use one of: {', '.join(self.stages)}."
        default = self.defaults.get(channel)
        if default is None:
            return None, f"Channel {channel!r} has no default stage; give a stage."
        return self.stages_by_id[default.stage_id], ""

    def intensity(self, channel: str) -> int:
        default = self.defaults.get(channel)
        return default.intensity if default else 3


@dataclass
class _Pending:
    """An item that passed validation, on its way into the database."""

    index: int
    item: TouchpointIn
    customer: Customer
    stage: JourneyStage
    source: str
    external_id: str
    resolves_pk: int | None = None
    resolves_in_batch: int | None = None
    journey: JourneyDraft | None = None
    interaction: Interaction | None = None


def _customers(items: Sequence[TouchpointIn], results: list[ItemResult | None]) -> tuple[dict[int, Customer], set[int]]:
    """The customer of every item, by index, and the ids of customers this batch created
    (unknown refs given with a name)."""
    ids = {item.customer_id for item in items if item.customer is None and _is_int(item.customer_id)}
    refs = {item.customer_ref.strip() for item in items if item.customer is None and isinstance(item.customer_ref, str)}
    by_id = Customer.objects.in_bulk(ids)
    by_ref = {c.ref: c for c in Customer.objects.filter(ref__in=refs - {""})}
    # First the names given for new refs anywhere in the batch, so a later item may use a
    # ref that an earlier one creates.
    to_create: dict[str, str] = {}
    for item in items:
        ref, name = _text(item.customer_ref), _text(item.customer_name)
        new_ref = item.customer is None and item.customer_id is None and ref and ref not in by_ref
        if new_ref and name and len(ref) <= REF_MAX_LENGTH and len(name) <= NAME_MAX_LENGTH:
            to_create.setdefault(ref, name)
    for index, item in enumerate(items):
        if results[index] is not None or item.customer is not None:
            continue
        ref, name = _text(item.customer_ref), _text(item.customer_name)
        if item.customer_id is not None and ref:
            results[index] = ItemResult("error", errors={"customer": ["Give customer or customer_ref, not both."]})
        elif item.customer_id is not None:
            if not _is_int(item.customer_id) or item.customer_id not in by_id:
                results[index] = ItemResult(
                    "error", errors={"customer": [f"No customer with id {item.customer_id!r}."]}
                )
        elif not ref:
            results[index] = ItemResult(
                "error", errors={"customer_ref": ["Give customer_ref (the customer's reference) or customer (id)."]}
            )
        elif len(ref) > REF_MAX_LENGTH:
            results[index] = ItemResult("error", errors={"customer_ref": [f"At most {REF_MAX_LENGTH} characters."]})
        elif len(name) > NAME_MAX_LENGTH:
            results[index] = ItemResult("error", errors={"customer_name": [f"At most {NAME_MAX_LENGTH} characters."]})
        elif ref not in by_ref and ref not in to_create:
            results[index] = ItemResult(
                "error",
                errors={"customer_name": [f"No customer has ref {ref!r}; give customer_name to create one."]},
            )
    created: set[int] = set()
    if to_create:
        new = [Customer(ref=ref, name=name) for ref, name in to_create.items()]
        try:
            with transaction.atomic():
                created = {c.pk for c in Customer.objects.bulk_create(new)}
        except IntegrityError:
            # A parallel request created one of them first: use theirs, create the rest.
            Customer.objects.bulk_create(new, ignore_conflicts=True)
        by_ref.update({c.ref: c for c in Customer.objects.filter(ref__in=to_create)})
    resolved: dict[int, Customer] = {}
    for index, item in enumerate(items):
        if results[index] is not None:
            continue
        if item.customer is not None:
            resolved[index] = item.customer
        elif item.customer_id is not None:
            resolved[index] = by_id[item.customer_id]
        else:
            resolved[index] = by_ref[item.customer_ref.strip()]
    return resolved, created


def _existing_by_key(keys: set[tuple[str, str]]) -> dict[tuple[str, str], Interaction]:
    if not keys:
        return {}
    found = Interaction.objects.filter(
        source__in={s for s, _ in keys}, external_id__in={e for _, e in keys}
    ).select_related("customer")
    return {(i.source, i.external_id): i for i in found if (i.source, i.external_id) in keys}


def _resolve_references(pending: list[_Pending], results: list[ItemResult | None]) -> None:
    """Link recoveries to their complaints (stored ones in one query, or earlier items)."""
    wanted_ids = {p.item.resolves for p in pending if _is_int(p.item.resolves)}
    wanted_keys = {(p.source, p.item.resolves.strip()) for p in pending if isinstance(p.item.resolves, str)}
    stored = Interaction.objects.in_bulk(wanted_ids)
    stored_by_key = _existing_by_key(wanted_keys)
    batch_by_key = {(p.source, p.external_id): p for p in pending}
    for p in pending:
        given = p.item.resolves
        if given is None or given == "":
            continue
        complaint: Interaction | _Pending | None
        if isinstance(given, Interaction):
            complaint = given
        elif _is_int(given):
            complaint = stored.get(given)
        elif isinstance(given, str):
            complaint = stored_by_key.get((p.source, given.strip())) or batch_by_key.get((p.source, given.strip()))
        else:
            complaint = None
        error = _resolution_error(p, complaint, given)
        if error:
            results[p.index] = ItemResult("error", errors={"resolves": [error]})
        elif isinstance(complaint, _Pending):
            p.resolves_in_batch = complaint.index
        elif isinstance(complaint, Interaction):
            p.resolves_pk = complaint.pk


def _resolution_error(p: _Pending, complaint: "Interaction | _Pending | None", given: object) -> str:
    if complaint is None:
        return f"No interaction {given!r} to resolve."
    if complaint is p:
        return "A touchpoint cannot resolve itself."
    if isinstance(complaint, _Pending):
        customer_id, valence, channel, at = (
            complaint.customer.pk,
            complaint.item.valence,
            complaint.item.channel,
            complaint.item.occurred_at,
        )
    else:
        customer_id, valence, channel, at = (
            complaint.customer_id,
            complaint.valence,
            complaint.channel,
            complaint.occurred_at,
        )
    if customer_id != p.customer.pk:
        return "The interaction to resolve belongs to another customer."
    if valence >= 0 and channel != Channel.COMPLAINT:
        return "Only a complaint or a negative touchpoint can be resolved."
    if at > p.item.occurred_at:
        return "A resolution cannot happen before the complaint it resolves."
    return ""


def _schedule_memory_refresh(customer_id: int) -> None:
    # Imported here: memory depends on interactions, not the other way round.
    from memory.tasks import schedule_memory_refresh

    schedule_memory_refresh(customer_id)


def _count_in_dashboards(interactions: list[Interaction], *, sign: int) -> None:
    from dashboards.services import daily_stats_apply  # dashboards read interactions

    daily_stats_apply(interactions=interactions, sign=sign)


def _notify_recorded(interactions: list[Interaction]) -> None:
    from integrations.models import Event  # integrations builds on interactions
    from integrations.services import interaction_payloads, subscriptions_for, webhooks_emit

    # Payloads only when someone listens: most installations have no subscription.
    subscriptions = subscriptions_for(Event.INTERACTION_RECORDED)
    if subscriptions:
        webhooks_emit(
            event=Event.INTERACTION_RECORDED, items=interaction_payloads(interactions), subscriptions=subscriptions
        )


def _bump_versions(customer_ids: Sequence[int], *, rewrite: bool) -> None:
    changes: dict[str, Any] = {"history_version": F("history_version") + 1}
    if rewrite:
        changes["rewrite_version"] = F("rewrite_version") + 1
    Customer.objects.filter(pk__in=customer_ids).update(**changes)


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
    results: list[ItemResult | None] = [None] * len(items)
    keys: list[tuple[str, str] | None] = [None] * len(items)
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

    # A stored key answers "duplicate" even when the repeat is malformed: a retry must
    # never turn a success into an error.
    existing = _existing_by_key({k for k in keys if k is not None})
    for index, key in enumerate(keys):
        if key in existing:
            results[index] = ItemResult("duplicate", interaction=existing[key])

    reference = _Reference()
    customers, new_customers = _customers(items, results)
    pending: list[_Pending] = []
    first_of_key: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        if results[index] is not None:
            continue
        key = keys[index]
        assert key is not None  # noqa: S101 - no errors means the key is valid
        if key in first_of_key:
            continue  # a repeat within the batch: answered once the first is stored
        stage, stage_error = reference.stage(item.stage, item.channel)
        if stage is None:
            results[index] = ItemResult("error", errors={"stage": [stage_error]})
            continue
        first_of_key[key] = index
        pending.append(_Pending(index, item, customers[index], stage, key[0], key[1]))
    _resolve_references(pending, results)
    pending = [p for p in pending if results[p.index] is None]

    customer_ids = sorted({p.customer.pk for p in pending})
    if customer_ids:
        # Lock in id order (no deadlock between batches), then look again: a request that
        # held these locks before us has committed, and READ COMMITTED shows its rows.
        list(Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk").values_list("pk"))
        again = _existing_by_key({(p.source, p.external_id) for p in pending})
        for p in pending:
            if (p.source, p.external_id) in again:
                results[p.index] = ItemResult("duplicate", interaction=again[(p.source, p.external_id)])
        pending = [p for p in pending if results[p.index] is None]

    if pending:
        try:
            with transaction.atomic():
                _insert(pending, reference)
        except IntegrityError:
            # The same key stored for another customer by a parallel batch (we did not
            # hold its lock). Once more: the re-check now sees it as a duplicate.
            if not _retry:
                raise
            return interactions_record_many(
                items=items, refresh_memory=refresh_memory, notify_webhooks=notify_webhooks, _retry=False
            )
        for p in pending:
            results[p.index] = ItemResult("created", interaction=p.interaction)
        touched = sorted({p.customer.pk for p in pending})
        _bump_versions(touched, rewrite=False)
        if refresh_memory:
            for customer_id in touched:
                _schedule_memory_refresh(customer_id)
        _count_in_dashboards([p.interaction for p in pending if p.interaction is not None], sign=1)
        if notify_webhooks:
            _notify_recorded([p.interaction for p in pending if p.interaction is not None])

    # A customer created for touchpoints that were all refused is not kept: nothing
    # half-written. Still uncommitted, so no other request can be using it.
    unused = new_customers - {p.customer.pk for p in pending}
    if unused:
        Customer.objects.filter(pk__in=unused).delete()

    for index, key in enumerate(keys):
        if results[index] is None and key is not None:
            first = results[first_of_key[key]]
            assert first is not None  # noqa: S101 - the first of a key always has a result
            results[index] = ItemResult("duplicate", interaction=first.interaction) if first.interaction else first
    return [r for r in results if r is not None]


def _insert(pending: list[_Pending], reference: _Reference) -> None:
    by_customer: dict[int, list[_Pending]] = defaultdict(list)
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

    rows = []
    for p in pending:
        item = p.item
        assert p.journey is not None and p.journey.pk is not None  # noqa: S101 - assigned and saved above
        p.interaction = Interaction(
            customer=p.customer,
            journey_id=p.journey.pk,
            channel=item.channel,
            direction=item.direction,
            occurred_at=item.occurred_at,
            staff=item.staff,
            stage=p.stage,
            valence=item.valence,
            intensity=item.intensity if item.intensity is not None else reference.intensity(item.channel),
            summary=item.summary,
            rating=item.rating,
            rating_scale=item.rating_scale or "",
            resolves_id=p.resolves_pk,
            resolved_on_first_contact=bool(item.resolved_on_first_contact),
            source=p.source,
            external_id=p.external_id,
        )
        rows.append(p.interaction)
    Interaction.objects.bulk_create(rows, batch_size=1000)
    in_batch = [p for p in pending if p.resolves_in_batch is not None]
    if in_batch:
        by_index = {p.index: p for p in pending}
        for p in in_batch:
            complaint = by_index[p.resolves_in_batch]  # type: ignore[index]
            assert p.interaction is not None and complaint.interaction is not None  # noqa: S101
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


@transaction.atomic
def interaction_change(*, interaction: Interaction, actor: Any = None, reason: str = "", **changes: Any) -> Interaction:
    """Change what was recorded of a touchpoint; the customer's memory is recomputed.
    Returns the stored row as changed."""
    unknown = set(changes) - CHANGEABLE_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    Customer.objects.select_for_update().filter(pk=interaction.customer_id).values_list("pk").get()
    # The row as stored (under the lock), not as the caller's copy says.
    stored = Interaction.objects.select_related("customer").get(pk=interaction.pk)
    merged = {
        name: changes.get(name, getattr(stored, name))
        for name in ("channel", "valence", "intensity", "direction", "summary", "rating", "rating_scale")
    }
    errors = validate_touchpoint(
        **merged, occurred_at=stored.occurred_at, source=stored.source, external_id=stored.external_id
    )
    if errors:
        raise ValidationError(errors)
    _count_in_dashboards([stored], sign=-1)
    before = {name: getattr(stored, name) for name in changes}
    for name, value in changes.items():
        setattr(stored, name, value)
    stored.save(update_fields=[*changes, "updated_at"])
    # Never silently: the log keeps what it was before.
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        obj=stored,
        changes={name: (before[name], getattr(stored, name)) for name in changes},
        reason=reason,
    )
    _count_in_dashboards([stored], sign=1)
    _bump_versions([stored.customer_id], rewrite=True)
    _schedule_memory_refresh(stored.customer_id)
    return stored


@transaction.atomic
def interaction_delete(*, interaction: Interaction, actor: Any = None, reason: str = "") -> None:
    Customer.objects.select_for_update().filter(pk=interaction.customer_id).values_list("pk").get()
    audit_record(
        actor=actor,
        action=Action.DELETE,
        obj=interaction,
        changes={
            name: getattr(interaction, name)
            for name in (
                "customer_id",
                "channel",
                "valence",
                "intensity",
                "occurred_at",
                "summary",
                "source",
                "external_id",
            )
        },
        reason=reason,
    )
    customer_id, journey_id = interaction.customer_id, interaction.journey_id
    _count_in_dashboards([Interaction.objects.select_related("customer").get(pk=interaction.pk)], sign=-1)
    interaction.delete()
    journey_forget_interactions(journey_ids=[journey_id])
    _bump_versions([customer_id], rewrite=True)
    _schedule_memory_refresh(customer_id)
