"""Writes of touchpoints: record (idempotent), change, delete.

Every write locks the customer row first. That serialises the writes of one customer
(journey assignment, the idempotency check, the version counters the memory engine reads)
while writes for different customers run in parallel.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

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
from journeys.services import journey_assign, journey_forget_interaction

# Clocks of other systems drift; a touchpoint further in the future than this is a mistake.
FUTURE_TOLERANCE = timedelta(hours=24)
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


@dataclass(frozen=True)
class RecordResult:
    interaction: Interaction
    created: bool


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
) -> dict[str, list[str]]:
    """Field errors of one touchpoint, without touching the database."""
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [f"Unknown channel {channel!r}; use one of: {', '.join(Channel.values)}."]
    if not _is_int(valence) or not -2 <= valence <= 2:  # type: ignore[operator]
        errors["valence"] = ["Give a whole number from -2 (very bad) to 2 (very good)."]
    if intensity is not None and (not _is_int(intensity) or not 1 <= intensity <= 5):  # type: ignore[operator]
        errors["intensity"] = ["Give a whole number from 1 (faint) to 5 (unforgettable), or leave it out."]
    if not isinstance(occurred_at, datetime):
        errors["occurred_at"] = ["Give a date and time with its time zone, e.g. 2026-03-01T09:30:00+00:00."]
    elif timezone.is_naive(occurred_at):
        errors["occurred_at"] = ["This date and time has no time zone; add one, e.g. +00:00 or Z."]
    elif occurred_at > (now or timezone.now()) + FUTURE_TOLERANCE:
        errors["occurred_at"] = ["This is in the future; a touchpoint is logged when or after it happens."]
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
    for name, value, limit in (("source", source, 50), ("external_id", external_id, 200)):
        if not isinstance(value, str) or not value.strip():
            errors[name] = ["This field is required: source and external_id together make a retry safe."]
        elif len(value) > limit:
            errors[name] = [f"At most {limit} characters."]
    return errors


def _stage_for(stage: JourneyStage | str | None, channel: str) -> tuple[JourneyStage | None, int | None, str]:
    """The stage to use and the channel's default intensity; an error message if any."""
    default = ChannelDefault.objects.select_related("stage").filter(channel=channel).first()
    default_intensity = default.intensity if default else None
    if isinstance(stage, JourneyStage):
        return stage, default_intensity, ""
    if stage:
        found = JourneyStage.objects.filter(key=stage).first()
        if found is None:
            keys = ", ".join(JourneyStage.objects.values_list("key", flat=True))
            return None, default_intensity, f"Unknown stage {stage!r}; use one of: {keys}."
        return found, default_intensity, ""
    if default is None:
        return None, default_intensity, f"Channel {channel!r} has no default stage; give a stage."
    return default.stage, default_intensity, ""


def _resolved_complaint(
    resolves: Interaction | int | None, customer: Customer, occurred_at: datetime
) -> tuple[Interaction | None, str]:
    if resolves is None:
        return None, ""
    complaint = resolves if isinstance(resolves, Interaction) else Interaction.objects.filter(pk=resolves).first()
    if complaint is None:
        return None, f"No interaction {resolves!r} to resolve."
    if complaint.customer_id != customer.pk:
        return None, "The interaction to resolve belongs to another customer."
    if complaint.valence >= 0 and not complaint.is_complaint:
        return None, "Only a complaint or a negative touchpoint can be resolved."
    if complaint.occurred_at > occurred_at:
        return None, "A resolution cannot happen before the complaint it resolves."
    return complaint, ""


def _existing(source: str, external_id: str) -> Interaction | None:
    return Interaction.objects.filter(source=source, external_id=external_id).first()


def _bump_versions(customer_id: int, *, rewrite: bool) -> None:
    changes: dict[str, Any] = {"history_version": F("history_version") + 1}
    if rewrite:
        changes["rewrite_version"] = F("rewrite_version") + 1
    Customer.objects.filter(pk=customer_id).update(**changes)


def _schedule_memory_refresh(customer_id: int) -> None:
    # Imported here: memory depends on interactions, not the other way round.
    from memory.tasks import schedule_memory_refresh

    schedule_memory_refresh(customer_id)


@transaction.atomic
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
    resolves: Interaction | int | None = None,
    resolved_on_first_contact: bool = False,
    journey_ref: str = "",
    refresh_memory: bool = True,
) -> RecordResult:
    """Store one touchpoint, or return the one already stored under (source, external_id).

    A repeat of a stored key returns the stored interaction unchanged (created=False):
    retries by other systems, double-clicks and races between identical requests never
    create a second row.
    """
    errors = validate_touchpoint(
        channel=channel,
        valence=valence,
        intensity=intensity,
        occurred_at=occurred_at,
        direction=direction,
        summary=summary,
        rating=rating,
        rating_scale=rating_scale,
        source=source,
        external_id=external_id,
    )
    if "source" not in errors and "external_id" not in errors:
        source, external_id = source.strip(), external_id.strip()
        existing = _existing(source, external_id)
        if existing is not None:
            return RecordResult(existing, created=False)
    if errors:
        raise ValidationError(errors)

    # Lock first, then look again: an identical request that held the lock before us has
    # committed by now, and READ COMMITTED lets this query see its row.
    Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk").get()
    existing = _existing(source, external_id)
    if existing is not None:
        return RecordResult(existing, created=False)

    chosen_stage, default_intensity, stage_error = _stage_for(stage, channel)
    complaint, resolves_error = _resolved_complaint(resolves, customer, occurred_at)
    errors = {}
    if stage_error:
        errors["stage"] = [stage_error]
    if resolves_error:
        errors["resolves"] = [resolves_error]
    if errors:
        raise ValidationError(errors)
    assert chosen_stage is not None  # noqa: S101 - every path without a stage returned an error above

    try:
        # A savepoint around journey and row: if the key turns out to be taken after all,
        # both roll back and the caller's transaction stays usable.
        with transaction.atomic():
            journey = journey_assign(
                customer=customer, occurred_at=occurred_at, stage=chosen_stage, journey_ref=journey_ref
            )
            interaction = Interaction.objects.create(
                customer=customer,
                journey=journey,
                channel=channel,
                direction=direction,
                occurred_at=occurred_at,
                staff=staff,
                stage=chosen_stage,
                valence=valence,
                intensity=intensity if intensity is not None else (default_intensity or 3),
                summary=summary,
                rating=rating,
                rating_scale=rating_scale or "",
                resolves=complaint,
                resolved_on_first_contact=resolved_on_first_contact,
                source=source,
                external_id=external_id,
            )
    except IntegrityError:
        # The same key stored for another customer by a parallel transaction: this
        # request is a repeat of that one.
        existing = _existing(source, external_id)
        if existing is None:
            raise
        return RecordResult(existing, created=False)
    _bump_versions(customer.pk, rewrite=False)
    if refresh_memory:
        _schedule_memory_refresh(customer.pk)
    return RecordResult(interaction, created=True)


@transaction.atomic
def interaction_change(*, interaction: Interaction, **changes: Any) -> Interaction:
    """Change what was recorded of a touchpoint; the customer's memory is recomputed."""
    unknown = set(changes) - CHANGEABLE_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    Customer.objects.select_for_update().filter(pk=interaction.customer_id).values_list("pk").get()
    merged = {
        name: changes.get(name, getattr(interaction, name))
        for name in ("channel", "valence", "intensity", "direction", "summary", "rating", "rating_scale")
    }
    errors = validate_touchpoint(
        **merged,
        occurred_at=interaction.occurred_at,
        source=interaction.source,
        external_id=interaction.external_id,
    )
    if errors:
        raise ValidationError(errors)
    for name, value in changes.items():
        setattr(interaction, name, value)
    interaction.save(update_fields=[*changes, "updated_at"])
    _bump_versions(interaction.customer_id, rewrite=True)
    _schedule_memory_refresh(interaction.customer_id)
    return interaction


@transaction.atomic
def interaction_delete(*, interaction: Interaction) -> None:
    Customer.objects.select_for_update().filter(pk=interaction.customer_id).values_list("pk").get()
    customer_id, journey = interaction.customer_id, interaction.journey
    interaction.delete()
    journey_forget_interaction(journey=journey)
    _bump_versions(customer_id, rewrite=True)
    _schedule_memory_refresh(customer_id)
