"""The ten behaviours of DESIGN.md section 3, on the pure memory model (no database)."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory.engine import (
    SECONDS_PER_DAY,
    MemoryParameters,
    MemoryState,
    Reading,
    Touch,
    expected_gain,
    felt_impacts,
    recompute,
)

P = MemoryParameters()


def touch(
    touch_id: int,
    day: float,
    valence: int,
    intensity: int = 3,
    *,
    journey: int = 1,
    channel: str = "call",
    stage: str = "fulfilment",
    resolves: int | None = None,
    first_contact: bool = False,
) -> Touch:
    return Touch(
        id=touch_id,
        at=day * SECONDS_PER_DAY,
        journey_id=journey,
        stage=stage,
        channel=channel,
        valence=valence,
        intensity=intensity,
        resolves_id=resolves,
        resolved_on_first_contact=first_contact,
    )


def reading(touches: list[Touch], as_of_day: float | None = None, params: MemoryParameters = P) -> Reading:
    state = recompute(touches, params).state
    as_of = as_of_day * SECONDS_PER_DAY if as_of_day is not None else max(t.at for t in touches)
    return state.read(as_of, params)


# 1. Peak-end --------------------------------------------------------------------------------
def test_milder_bad_ending_raises_the_memory_of_a_bad_journey() -> None:
    """The cold-water experiment: more pain in total, but a milder end, is remembered better."""
    bad = [touch(1, 0.00, -2, 5), touch(2, 0.01, -2, 5)]
    longer = [*bad, touch(3, 0.02, -1, 3)]
    assert sum(t.raw_impact for t in longer) < sum(t.raw_impact for t in bad)
    before, after = reading(bad).score, reading(longer).score
    assert before == pytest.approx(1.10, abs=0.01)
    assert after == pytest.approx(3.96, abs=0.01)
    assert after > before


# 2. Duration neglect ------------------------------------------------------------------------
def test_thirty_similar_mild_touches_score_like_three() -> None:
    three = [touch(i, i * 0.1, 1, 2) for i in range(3)]
    thirty = [touch(i, i * 0.01, 1, 2) for i in range(30)]
    assert reading(three).score == pytest.approx(54.28, abs=0.01)
    assert reading(thirty).score == pytest.approx(reading(three).score, abs=1e-9)


def test_one_vivid_peak_moves_the_score_far_more_than_many_faint_touches() -> None:
    faint = reading([touch(i, i * 0.1, 1, 1) for i in range(20)]).score
    vivid = reading([touch(1, 0, 2, 5)]).score
    assert faint == pytest.approx(51.25, abs=0.01)
    assert vivid == pytest.approx(88.08, abs=0.01)
    assert (vivid - 50) > 10 * (faint - 50)


# 3. Negativity ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("order", "expected"),
    [(("good", "bad"), 10.69), (("bad", "good"), 28.43)],
)
def test_equally_intense_good_and_bad_land_below_neutral(order: tuple[str, str], expected: float) -> None:
    valence = {"good": 2, "bad": -2}
    touches = [touch(i, i * 0.1, valence[kind], 4) for i, kind in enumerate(order, start=1)]
    assert reading(touches).score == pytest.approx(expected, abs=0.01)
    assert reading(touches).score < 50


def test_negativity_holds_across_separate_journeys_too() -> None:
    touches = [touch(1, 0, -2, 4, journey=1), touch(2, 60, 2, 4, journey=2)]
    assert reading(touches).score == pytest.approx(39.07, abs=0.01)


# 4. Order matters ---------------------------------------------------------------------------
def test_same_touches_in_another_order_give_another_score() -> None:
    ending_well = [touch(1, 0, -2, 4), touch(2, 1, 0, 3), touch(3, 2, 2, 4)]
    ending_badly = [touch(3, 0, 2, 4), touch(2, 1, 0, 3), touch(1, 2, -2, 4)]
    well, badly = reading(ending_well).score, reading(ending_badly).score
    assert well - badly > 15
    assert well == pytest.approx(31.66, abs=0.01)
    assert badly == pytest.approx(12.25, abs=0.01)


# 5. Accumulation ----------------------------------------------------------------------------
def _monthly_small_touches(first_id: int = 10) -> list[Touch]:
    # One small positive touch a month; automatic journeys are cut every 90 days or so.
    return [touch(first_id + m, 30 * (m + 1), 1, 2, journey=2 + (30 * (m + 1)) // 91) for m in range(12)]


def test_steady_small_touches_lift_a_neutral_customer_more_than_one_touch() -> None:
    stream = reading(_monthly_small_touches(), 365).score
    single = reading([touch(10, 360, 1, 2, journey=5)], 365).score
    assert stream == pytest.approx(56.15, abs=0.01)
    assert single == pytest.approx(54.11, abs=0.01)
    assert stream > single > 50


def test_steady_small_touches_keep_a_good_memory_from_fading() -> None:
    good_year_ago = [touch(1, 0, 2, 4, journey=1)]
    alone = reading(good_year_ago, 365).score
    kept = reading(good_year_ago + _monthly_small_touches(), 365).score
    assert alone == pytest.approx(52.22, abs=0.01)
    assert kept == pytest.approx(58.88, abs=0.01)


# 6. Recovery --------------------------------------------------------------------------------
def test_resolved_complaint_ends_higher_than_the_same_complaint_left_alone() -> None:
    complaint = touch(1, 0, -1, 4, channel="complaint")
    left_alone = reading([complaint]).score
    unlinked = reading([complaint, touch(2, 2, 2, 3)]).score
    resolved = reading([complaint, touch(2, 2, 2, 3, resolves=1)]).score
    assert left_alone == pytest.approx(23.15, abs=0.01)
    assert unlinked == pytest.approx(45.02, abs=0.01)
    assert resolved == pytest.approx(70.45, abs=0.01)
    assert resolved > 50  # the recovery paradox: above where the customer started


def test_second_failure_within_the_window_gets_no_paradox_bonus() -> None:
    second = touch(5, 100, -1, 4, channel="complaint", journey=2)
    recovery = touch(6, 102, 2, 3, journey=2, resolves=5)
    quiet_before = [touch(2, 1, 0, 2, journey=1)]
    failed_before = [touch(1, 0, -1, 4, channel="complaint", journey=1), touch(2, 1, 0, 2, journey=1)]
    assert recompute([*quiet_before, second, recovery], P).paradox_recoveries == {6}
    assert recompute([*failed_before, second, recovery], P).paradox_recoveries == set()
    # Outside the window the earlier failure no longer counts.
    long_ago = [touch(1, -400, -1, 4, channel="complaint", journey=1), touch(2, 1, 0, 2, journey=1)]
    assert recompute([*long_ago, second, recovery], P).paradox_recoveries == {6}


def test_severe_failure_or_lukewarm_recovery_gets_no_paradox_bonus() -> None:
    severe = [touch(1, 0, -2, 5, channel="complaint"), touch(2, 1, 2, 3, resolves=1)]
    lukewarm = [touch(1, 0, -1, 4, channel="complaint"), touch(2, 1, 1, 3, resolves=1)]
    assert recompute(severe, P).paradox_recoveries == set()
    assert recompute(lukewarm, P).paradox_recoveries == set()
    impacts, _ = felt_impacts(severe, P)
    assert impacts[1] == pytest.approx(-2.25 * (1 - 0.6 * 0.6))  # softened all the same


def test_complaint_resolved_on_first_contact_is_softened_at_once() -> None:
    plain = reading([touch(1, 0, -1, 4, channel="complaint")]).score
    fixed = reading([touch(1, 0, -1, 4, channel="complaint", first_contact=True)]).score
    assert fixed - plain > 10


# 7. Recency ---------------------------------------------------------------------------------
def _rich_history() -> list[Touch]:
    return [touch(i, i * 7, 1 if i % 5 else 2, 3, journey=1 + i // 6) for i in range(30)]


def test_memory_fades_half_the_distance_per_half_life() -> None:
    history = _rich_history()
    last_day = max(t.at for t in history) / SECONDS_PER_DAY
    now, one, two = (reading(history, last_day + d) for d in (0, 90, 180))
    assert one.value == pytest.approx(now.value / 2, rel=1e-12)
    assert two.value == pytest.approx(now.value / 4, rel=1e-12)
    assert now.score == pytest.approx(72.20, abs=0.01)
    # On the 0..100 display, the gentle tanh curve keeps this close to half.
    assert (one.score - 50) / (now.score - 50) == pytest.approx(0.53, abs=0.01)


def test_half_life_is_a_setting() -> None:
    history = _rich_history()
    last_day = max(t.at for t in history) / SECONDS_PER_DAY
    short = MemoryParameters(half_life_days=30)
    now, later = reading(history, last_day, short), reading(history, last_day + 30, short)
    assert later.value == pytest.approx(now.value / 2, rel=1e-12)


# 8. Running == recomputed -------------------------------------------------------------------
def _replay(arrivals: list[Touch], params: MemoryParameters = P) -> tuple[MemoryState, int]:
    """Fold arrivals in as the worker does: append when possible, otherwise recompute."""
    state, seen, recomputes = MemoryState(), [], 0
    for arrival in arrivals:
        seen.append(arrival)
        if state.can_append(arrival):
            state.append(arrival, params)
        else:
            state = recompute(seen, params).state
            recomputes += 1
        state = MemoryState.from_dict(state.to_dict())  # as stored in the database
    return state, recomputes


def _assert_same(a: Reading, b: Reading) -> None:
    assert a.value == pytest.approx(b.value, abs=1e-9)
    assert a.score == pytest.approx(b.score, abs=1e-9)
    assert a.band == b.band
    assert [j.journey_id for j in a.top_journeys] == [j.journey_id for j in b.top_journeys]
    assert a.stages.keys() == b.stages.keys()
    for stage in a.stages:
        assert a.stages[stage]["value"] == pytest.approx(b.stages[stage]["value"], abs=1e-9)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Touch], list[Touch]]:
    """A customer history (journeys in order, sometimes interleaved, some recoveries) and
    an arrival order for it."""
    size = draw(st.integers(min_value=1, max_value=40))
    touches: list[Touch] = []
    day, journey = 0.0, 1
    for i in range(1, size + 1):
        day += draw(st.floats(min_value=0.0, max_value=60.0))
        step = draw(st.sampled_from(["same", "same", "next", "revisit"]))
        if step == "next":
            journey += 1
        journey_id = draw(st.integers(1, journey)) if step == "revisit" else journey
        valence = draw(st.integers(-2, 2))
        negatives = [t.id for t in touches if t.raw_impact < 0]
        resolves = draw(st.sampled_from(negatives)) if negatives and valence > 0 and draw(st.booleans()) else None
        touches.append(
            Touch(
                id=i,
                at=day * SECONDS_PER_DAY,
                journey_id=journey_id,
                stage=draw(st.sampled_from(["anticipation", "fulfilment", "evaluation"])),
                channel=draw(st.sampled_from(["call", "complaint", "email"])),
                valence=valence,
                intensity=draw(st.integers(1, 5)),
                resolves_id=resolves,
                resolved_on_first_contact=draw(st.booleans()),
            )
        )
    in_order = draw(st.booleans())
    arrivals = list(touches) if in_order else draw(st.permutations(touches))
    return touches, arrivals


@settings(max_examples=300, deadline=None)
@given(histories(), st.floats(min_value=0.0, max_value=400.0))
def test_running_state_equals_recomputation_for_any_history_and_arrival_order(
    history: tuple[list[Touch], list[Touch]], days_later: float
) -> None:
    touches, arrivals = history
    running, _ = _replay(arrivals)
    full = recompute(touches, P).state
    as_of = max(t.at for t in touches) + days_later * SECONDS_PER_DAY
    _assert_same(running.read(as_of, P), full.read(as_of, P))


def test_in_order_arrivals_never_recompute() -> None:
    history = _rich_history()
    _, recomputes = _replay(history)
    assert recomputes == 0


def test_out_of_order_or_recovery_arrivals_recompute() -> None:
    history = _rich_history()
    shuffled = history[:10] + [history[12], history[10], history[11]] + history[13:]
    assert _replay(shuffled)[1] == 2  # touches 10 and 11 both arrive after 12
    recovery = touch(99, 500, 2, 4, journey=99, resolves=3)
    assert _replay([touch(3, 0, -1, 4), recovery])[1] == 1


def test_running_state_is_exact_over_a_long_random_history() -> None:
    rng = random.Random(5)
    day, journey, touches = 0.0, 1, []
    for i in range(1, 2001):
        day += rng.expovariate(1 / 3)
        if rng.random() < 0.1:
            journey += 1
        touches.append(touch(i, day, rng.randint(-2, 2), rng.randint(1, 5), journey=journey))
    running, recomputes = _replay(touches)
    assert recomputes == 0
    _assert_same(running.read(day * SECONDS_PER_DAY, P), recompute(touches, P).state.read(day * SECONDS_PER_DAY, P))


# 9. Explainable -----------------------------------------------------------------------------
def test_breakdown_names_peak_end_and_components() -> None:
    touches = [
        touch(1, 0, 1, 2, journey=1),
        touch(2, 3, -2, 5, journey=1, channel="complaint"),
        touch(3, 4, 1, 2, journey=1),
        touch(4, 60, 1, 3, journey=2),
    ]
    result = reading(touches)
    assert result.peak is not None and result.peak.touch_id == 2  # the complaint
    assert result.end is not None and result.end.touch_id == 4
    assert result.top_journeys[0].journey_id == 1
    data = result.to_dict()
    for key in ("score", "band", "value", "decay", "closed_sum", "closed_weight", "pseudo_count", "stages"):
        assert key in data
    assert data["peak"]["touch_id"] == 2
    assert data["stages"]["fulfilment"]["count"] == 4


# Expected gain (next best touch) ------------------------------------------------------------
def test_good_ending_is_worth_more_to_a_journey_going_badly_than_to_a_happy_one() -> None:
    going_badly = recompute([touch(1, 0, -1, 4, channel="complaint"), touch(2, 1, 0, 3)], P).state
    happy = recompute([touch(1, 0, 2, 4), touch(2, 1, 2, 3)], P).state
    good_call = touch(50, 2, 2, 3)
    gain_bad = expected_gain(going_badly, good_call, 2 * SECONDS_PER_DAY, P)
    gain_happy = expected_gain(happy, good_call, 2 * SECONDS_PER_DAY, P)
    assert gain_bad > 10 * max(gain_happy, 0.1)


def test_parameters_come_from_a_mapping_and_ignore_unknown_keys() -> None:
    params = MemoryParameters.from_mapping({"loss_aversion": 3, "top_journeys": 2.0, "nonsense": 1})
    assert params.loss_aversion == 3.0 and params.top_journeys == 2
    assert math.isclose(params.decay(params.half_life_seconds), 0.5)
