"""A batch's items on their way in, their answers, and the stored rows their keys name."""

from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth.models import User

from config.validation import Errors
from customers.models import Customer
from interactions.models import Direction, Interaction
from journeys.models import JourneyStage
from journeys.rules import JourneyDraft

Key = tuple[str, str]  # (source, external_id): a touchpoint's idempotency key


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


# One answer per item, by index; None while the item is still on its way.
Results = list[ItemResult | None]


@dataclass
class Pending:
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


def error(field_name: str, message: str) -> ItemResult:
    return ItemResult("error", errors={field_name: [message]})


def stored_by_key(keys: set[Key]) -> dict[Key, Interaction]:
    """The stored touchpoints of these keys, in one query. Asked on every write and almost
    always answered "none", so it reads only the key and the ids (the other fields load
    when a caller reads them)."""
    if not keys:
        return {}
    found = Interaction.objects.filter(source__in={s for s, _ in keys}, external_id__in={e for _, e in keys}).only(
        "id", "customer_id", "source", "external_id"
    )
    return {(i.source, i.external_id): i for i in found if (i.source, i.external_id) in keys}
