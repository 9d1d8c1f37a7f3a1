"""Corrections of what was recorded: change a touchpoint, or delete it. Both are audited
with the values before, and rewrite the customer's history (the memory is recomputed)."""

import copy
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.models import Action
from audit.services import audit_record
from config.announce import announce
from customers.models import Customer
from interactions.models import Interaction
from interactions.services.recording import bump_versions
from interactions.services.validation import validate_touchpoint
from interactions.signals import TouchpointsWritten, touchpoints_written
from journeys.services import journey_forget_interactions

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
# What the audit log keeps of a deleted touchpoint.
DELETED_FIELDS = ("customer_id", "channel", "valence", "intensity", "occurred_at", "summary", "source", "external_id")


def _lock_customer(customer_id: int) -> None:
    Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk").get()


def _announce_rewrite(customer_id: int, *, before: list[Interaction], after: list[Interaction]) -> None:
    bump_versions([customer_id], rewrite=True)
    announce(
        touchpoints_written,
        sender=Interaction,
        written=TouchpointsWritten(
            before=before, after=after, customer_ids=[customer_id], news=False, refresh_memory=True
        ),
    )


@transaction.atomic
def interaction_change(*, interaction: Interaction, actor: Any = None, reason: str = "", **changes: Any) -> Interaction:
    """Change what was recorded of a touchpoint; the customer's memory is recomputed.
    Returns the stored row as changed."""
    unknown = set(changes) - CHANGEABLE_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    _lock_customer(interaction.customer_id)
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
    as_it_was = copy.copy(stored)
    for name, value in changes.items():
        setattr(stored, name, value)
    stored.save(update_fields=[*changes, "updated_at"])
    # Never silently: the log keeps what it was before.
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        obj=stored,
        changes={name: (getattr(as_it_was, name), getattr(stored, name)) for name in changes},
        reason=reason,
    )
    _announce_rewrite(stored.customer_id, before=[as_it_was], after=[stored])
    return stored


@transaction.atomic
def interaction_delete(*, interaction: Interaction, actor: Any = None, reason: str = "") -> None:
    _lock_customer(interaction.customer_id)
    audit_record(
        actor=actor,
        action=Action.DELETE,
        obj=interaction,
        changes={name: getattr(interaction, name) for name in DELETED_FIELDS},
        reason=reason,
    )
    stored = Interaction.objects.select_related("customer").get(pk=interaction.pk)
    interaction.delete()
    journey_forget_interactions(journey_ids=[stored.journey_id])
    _announce_rewrite(stored.customer_id, before=[stored], after=[])
