from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import F, Q

from interactions.models import RATING_RANGES, Interaction, RatingScale
from memory.calibration import Answer
from memory.engine import Touch
from memory.services import TOUCH_FIELDS, touch_from_row

HISTORY_CHUNK = 2000

# Lived and remembered differ visibly from this many points on.
DIVERGENCE_POINTS = 10.0


def remembered_worse_than_lived(prefix: str = "") -> Q:
    """Customers whose memory score is at least DIVERGENCE_POINTS below what they lived
    through on average: where peaks and endings, not the average, decide. `prefix` leads
    from the queried model to the customer (e.g. "customer__")."""
    return Q(**{f"{prefix}memory__lived_score__isnull": False}) & Q(
        **{f"{prefix}memory__score__lt": F(f"{prefix}memory__lived_score") - DIVERGENCE_POINTS}
    )


@dataclass
class TouchHistory:
    """One customer's touches in order, their survey answers (rating scaled 0..1) and the
    ids of the survey touches (an answer is an outcome, not something to predict from)."""

    touches: list[Touch] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    survey_ids: set[int] = field(default_factory=set)


def touch_histories(customer_ids: Iterable[int] | None = None) -> dict[int, TouchHistory]:
    """Every customer's history (or these customers'), read in ordered passes (calibration,
    backtests, the what-if)."""
    histories: dict[int, TouchHistory] = defaultdict(TouchHistory)
    ids = sorted(customer_ids) if customer_ids is not None else None
    chunks = [ids[i : i + HISTORY_CHUNK] for i in range(0, len(ids), HISTORY_CHUNK)] if ids is not None else [None]
    for chunk in chunks:
        rows = Interaction.objects.order_by("customer_id", "occurred_at", "id")
        if chunk is not None:
            rows = rows.filter(customer_id__in=chunk)
        for customer_id, rating, scale, *touch_row in rows.values_list(
            "customer_id", "rating", "rating_scale", *TOUCH_FIELDS
        ).iterator(chunk_size=5000):
            touch = touch_from_row(tuple(touch_row))
            history = histories[customer_id]
            history.touches.append(touch)
            if rating is not None and scale:
                low, high = RATING_RANGES[RatingScale(scale)]
                history.answers.append(Answer(at=touch.at, rating=(rating - low) / (high - low)))
                history.survey_ids.add(touch.id)
    return dict(histories)
