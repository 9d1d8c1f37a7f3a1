"""Whose touchpoint is it? Each item names its customer by object, id or ref; a new ref
given with a name creates the customer. Three queries per batch, whatever its size."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from customers.models import Customer
from interactions.services.items import ItemResult, Results, TouchpointIn, error
from interactions.services.validation import is_whole_number, text_or_empty

NAME_MAX_LENGTH = 200
REF_MAX_LENGTH = 100


@dataclass
class _Known:
    """The customers a batch names, as found, and the refs it will create (ref -> name)."""

    by_id: dict[int, Customer]
    by_ref: dict[str, Customer]
    to_create: dict[str, str]


def _names_by_id_or_ref(item: TouchpointIn) -> bool:
    return item.customer is None


def _lookup(items: Sequence[TouchpointIn]) -> _Known:
    named = [item for item in items if _names_by_id_or_ref(item)]
    ids = {item.customer_id for item in named if is_whole_number(item.customer_id)}
    refs = {item.customer_ref.strip() for item in named if isinstance(item.customer_ref, str)}
    known = _Known(
        by_id=Customer.objects.in_bulk(ids),
        by_ref={c.ref: c for c in Customer.objects.filter(ref__in=refs - {""})},
        to_create={},
    )
    # First the names given for new refs anywhere in the batch, so a later item may use a
    # ref that an earlier one creates.
    for item in named:
        ref, name = text_or_empty(item.customer_ref), text_or_empty(item.customer_name)
        new_ref = item.customer_id is None and ref and ref not in known.by_ref
        if new_ref and name and len(ref) <= REF_MAX_LENGTH and len(name) <= NAME_MAX_LENGTH:
            known.to_create.setdefault(ref, name)
    return known


def _customer_error(item: TouchpointIn, known: _Known) -> ItemResult | None:
    ref, name = text_or_empty(item.customer_ref), text_or_empty(item.customer_name)
    if item.customer_id is not None:
        if ref:
            return error("customer", "Give customer or customer_ref, not both.")
        if not is_whole_number(item.customer_id) or item.customer_id not in known.by_id:
            return error("customer", f"No customer with id {item.customer_id!r}.")
        return None
    if not ref:
        return error("customer_ref", "Give customer_ref (the customer's reference) or customer (id).")
    if len(ref) > REF_MAX_LENGTH:
        return error("customer_ref", f"At most {REF_MAX_LENGTH} characters.")
    if len(name) > NAME_MAX_LENGTH:
        return error("customer_name", f"At most {NAME_MAX_LENGTH} characters.")
    if ref not in known.by_ref and ref not in known.to_create:
        return error("customer_name", f"No customer has ref {ref!r}; give customer_name to create one.")
    return None


def _create(known: _Known) -> set[int]:
    """Create the new refs; the ids of those this batch created."""
    if not known.to_create:
        return set()
    # In the order of their refs: two batches creating some of the same refs then wait
    # for each other at the first shared one, instead of each holding a ref (its unique
    # index entry) that the other needs next, which PostgreSQL breaks by failing one.
    new = [Customer(ref=ref, name=name) for ref, name in sorted(known.to_create.items())]
    try:
        with transaction.atomic():
            Customer.objects.bulk_create(new)
    except IntegrityError:
        # A parallel request created one of them first: use theirs, create the rest.
        Customer.objects.bulk_create(new, ignore_conflicts=True)
        # Which of them are ours is not known (no ids come back): none is counted as ours.
        known.by_ref.update({c.ref: c for c in Customer.objects.filter(ref__in=known.to_create)})
        return set()
    known.by_ref.update({c.ref: c for c in new})
    return {c.pk for c in new}


def customers_for_items(items: Sequence[TouchpointIn], results: Results) -> tuple[dict[int, Customer], set[int]]:
    """The customer of every item still without an answer, by index, and the ids of the
    customers this batch created. An item naming no usable customer gets its error."""
    known = _lookup(items)
    for index, item in enumerate(items):
        if results[index] is None and _names_by_id_or_ref(item):
            results[index] = _customer_error(item, known)
    created = _create(known)
    resolved: dict[int, Customer] = {}
    for index, item in enumerate(items):
        if results[index] is not None:
            continue
        if item.customer is not None:
            resolved[index] = item.customer
        elif item.customer_id is not None:
            resolved[index] = known.by_id[item.customer_id]
        else:
            resolved[index] = known.by_ref[item.customer_ref.strip()]
    return resolved, created
