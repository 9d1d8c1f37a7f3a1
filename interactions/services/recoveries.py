"""Which complaint does a touchpoint recover? A stored one (one query for the batch) or
one earlier in the same batch; refused when it cannot be a recovery of it."""

from interactions.models import Channel, Interaction
from interactions.services.items import Pending, Results, error, stored_by_key
from interactions.services.validation import is_whole_number

Complaint = Interaction | Pending


def _complaint_named(
    given: object,
    source: str,
    stored: dict[int, Interaction],
    stored_keys: dict[tuple[str, str], Interaction],
    batch_keys: dict[tuple[str, str], Pending],
) -> Complaint | None:
    if isinstance(given, Interaction):
        return given
    if is_whole_number(given):
        return stored.get(given)  # type: ignore[call-overload]
    if isinstance(given, str):
        key = (source, given.strip())
        return stored_keys.get(key) or batch_keys.get(key)
    return None


def recovery_error(p: Pending, complaint: Complaint | None, given: object) -> str:
    """Why `p` cannot recover `complaint` (named as `given`), or "" when it can."""
    if complaint is None:
        return f"No interaction {given!r} to resolve."
    if complaint is p:
        return "A touchpoint cannot resolve itself."
    if isinstance(complaint, Pending):
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


def link_recoveries(pending: list[Pending], results: Results) -> None:
    """Link each recovery to its complaint, or answer the item with why it cannot be."""
    stored = Interaction.objects.in_bulk({p.item.resolves for p in pending if is_whole_number(p.item.resolves)})
    stored_keys = stored_by_key(
        {(p.source, p.item.resolves.strip()) for p in pending if isinstance(p.item.resolves, str)}
    )
    batch_keys = {(p.source, p.external_id): p for p in pending}
    for p in pending:
        given = p.item.resolves
        if given is None or given == "":
            continue
        complaint = _complaint_named(given, p.source, stored, stored_keys, batch_keys)
        reason = recovery_error(p, complaint, given)
        if reason:
            results[p.index] = error("resolves", reason)
        elif isinstance(complaint, Pending):
            p.resolves_in_batch = complaint.index
        elif isinstance(complaint, Interaction):
            p.resolves_pk = complaint.pk
