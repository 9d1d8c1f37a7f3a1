"""Generated customer histories for the memory model's property tests (hypothesis)."""

from hypothesis import strategies as st

from memory.engine import SECONDS_PER_DAY, Touch

CHANNELS = ["call", "complaint", "email"]
STAGES = ["anticipation", "fulfilment", "evaluation"]


# The product's journeys span at most this many days (JOURNEY_MAX_SPAN_DAYS).
MAX_SPAN_DAYS = 90.0


@st.composite
def histories(draw: st.DrawFn, max_size: int = 40) -> tuple[list[Touch], list[Touch]]:
    """A customer history (journeys in order, sometimes interleaved, some recoveries; no
    journey longer than the product allows) and an arrival order for it."""
    size = draw(st.integers(min_value=1, max_value=max_size))
    touches: list[Touch] = []
    day, journey = 0.0, 1
    started = {1: 0.0}
    for i in range(1, size + 1):
        day += draw(st.floats(min_value=0.0, max_value=60.0))
        step = draw(st.sampled_from(["same", "same", "next", "revisit"]))
        open_journeys = [j for j, start in started.items() if day - start <= MAX_SPAN_DAYS]
        if step == "next" or not open_journeys:
            journey += 1
            started[journey] = day
            open_journeys.append(journey)
        journey_id = draw(st.sampled_from(open_journeys)) if step == "revisit" else open_journeys[-1]
        valence = draw(st.integers(-2, 2))
        negatives = [t.id for t in touches if t.raw_impact < 0]
        resolves = draw(st.sampled_from(negatives)) if negatives and valence > 0 and draw(st.booleans()) else None
        touches.append(
            Touch(
                id=i,
                at=day * SECONDS_PER_DAY,
                journey_id=journey_id,
                stage=draw(st.sampled_from(STAGES)),
                channel=draw(st.sampled_from(CHANNELS)),
                valence=valence,
                intensity=draw(st.integers(1, 5)),
                resolves_id=resolves,
                resolved_on_first_contact=draw(st.booleans()),
            )
        )
    in_order = draw(st.booleans())
    arrivals = list(touches) if in_order else draw(st.permutations(touches))
    return touches, arrivals
