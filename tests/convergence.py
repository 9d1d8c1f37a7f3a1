"""Is every stored memory what a from-scratch recompute of the stored history gives?"""

from __future__ import annotations

from django.db.models import Count

from customers.models import Customer
from interactions.models import Interaction
from memory.engine import recompute
from memory.models import CustomerMemory
from memory.services import customer_touches, memory_parameters


def memory_mismatches(customer_ids: list[int]) -> list[str]:
    """Every way the customers' memories differ from a recompute: an empty list when
    each memory is current (its version matches the history) and its score equals the
    recomputed score read at the same moment."""
    params = memory_parameters()
    problems = []
    versions = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "history_version"))
    memories = {m.customer_id: m for m in CustomerMemory.objects.filter(customer_id__in=customer_ids)}
    for customer_id in customer_ids:
        memory = memories.get(customer_id)
        if memory is None or memory.score_as_of is None:
            problems.append(f"customer {customer_id}: no memory")
            continue
        if memory.history_version != versions[customer_id]:
            behind = f"memory at version {memory.history_version}, history at {versions[customer_id]}"
            problems.append(f"customer {customer_id}: {behind}")
            continue
        expected = recompute(customer_touches(customer_id), params).state.read(memory.score_as_of.timestamp(), params)
        if abs(expected.score - memory.score) > 1e-6:
            problems.append(f"customer {customer_id}: score {memory.score}, recomputed {expected.score}")
    return problems


def duplicated_keys() -> int:
    """(source, external_id) pairs stored more than once (the database forbids it; counted anyway)."""
    return Interaction.objects.values("source", "external_id").annotate(n=Count("id")).filter(n__gt=1).count()
