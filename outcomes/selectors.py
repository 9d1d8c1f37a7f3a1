from collections import defaultdict
from collections.abc import Collection
from typing import cast

from memory.selectors import touch_histories
from outcomes.backtest import CustomerHistory, Lifecycle
from outcomes.models import Outcome


def backtest_histories(customer_ids: Collection[int] | None = None) -> list[CustomerHistory]:
    """Every customer with touchpoints (or these customers): touches, survey answers and
    lifecycle outcomes."""
    lifecycle: dict[int, list[tuple[float, Lifecycle]]] = defaultdict(list)
    outcomes = Outcome.objects.all()
    if customer_ids is not None:
        outcomes = outcomes.filter(customer_id__in=customer_ids)
    for customer_id, kind, occurred_at in outcomes.values_list("customer_id", "kind", "occurred_at"):
        lifecycle[customer_id].append((occurred_at.timestamp(), cast(Lifecycle, kind)))
    return [
        CustomerHistory(cid, h.touches, h.answers, frozenset(h.survey_ids), lifecycle.get(cid, []))
        for cid, h in touch_histories(customer_ids).items()
    ]
