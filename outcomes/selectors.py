from collections import defaultdict
from typing import cast

from memory.selectors import touch_histories
from outcomes.backtest import CustomerHistory, Lifecycle
from outcomes.models import Outcome


def backtest_histories() -> list[CustomerHistory]:
    """Every customer with touchpoints: touches, survey answers and lifecycle outcomes."""
    lifecycle: dict[int, list[tuple[float, Lifecycle]]] = defaultdict(list)
    for customer_id, kind, occurred_at in Outcome.objects.values_list("customer_id", "kind", "occurred_at"):
        lifecycle[customer_id].append((occurred_at.timestamp(), cast(Lifecycle, kind)))
    return [
        CustomerHistory(cid, h.touches, h.answers, frozenset(h.survey_ids), lifecycle.get(cid, []))
        for cid, h in touch_histories().items()
    ]
