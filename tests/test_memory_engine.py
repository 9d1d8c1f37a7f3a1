"""The ten behaviours of DESIGN.md section 3, on the pure memory model (no database)."""

import math
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory.engine import (
    SECONDS_PER_DAY,
    MemoryParameters,
    MemoryState,
    Reading,
    Touch,
    change_since,
    drivers,
    expected_gain,
    felt_impacts,
    recompute,
)
from tests.memory_histories import histories

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
    assert before == pytest.approx(8.22, abs=0.01)
    assert after == pytest.approx(9.15, abs=0.01)
    assert after > before


# 2. Duration neglect ------------------------------------------------------------------------
def test_thirty_similar_mild_touches_score_like_three() -> None:
    three = [touch(i, i * 0.1, 1, 2) for i in range(3)]
    thirty = [touch(i, i * 0.01, 1, 2) for i in range(30)]
    assert reading(three).score == pytest.approx(56.18, abs=0.01)
    # Equal but for the few hours of fading between the touches.
    assert reading(thirty).score == pytest.approx(reading(three).score, abs=0.02)


def test_one_vivid_peak_moves_the_score_far_more_than_many_faint_touches() -> None:
    faint = reading([touch(i, i * 0.1, 1, 1) for i in range(20)]).score
    vivid = reading([touch(1, 0, 2, 5)]).score
    assert faint == pytest.approx(53.10, abs=0.01)
    assert vivid == pytest.approx(75.06, abs=0.01)
    assert (vivid - 50) > 7 * (faint - 50)


# 3. Negativity ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("order", "expected"),
    [(("good", "bad"), 22.63), (("bad", "good"), 35.42)],
)
def test_equally_intense_good_and_bad_land_below_neutral(order: tuple[str, str], expected: float) -> None:
    valence = {"good": 2, "bad": -2}
    touches = [touch(i, i * 0.1, valence[kind], 4) for i, kind in enumerate(order, start=1)]
    assert reading(touches).score == pytest.approx(expected, abs=0.01)
    assert reading(touches).score < 50


def test_negativity_holds_across_separate_journeys_too() -> None:
    touches = [touch(1, 0, -2, 4, journey=1), touch(2, 60, 2, 4, journey=2)]
    assert reading(touches).score == pytest.approx(39.89, abs=0.01)


# 4. Order matters ---------------------------------------------------------------------------
def test_same_touches_in_another_order_give_another_score() -> None:
    ending_well = [touch(1, 0, -2, 4), touch(2, 1, 0, 3), touch(3, 2, 2, 4)]
    ending_badly = [touch(3, 0, 2, 4), touch(2, 1, 0, 3), touch(1, 2, -2, 4)]
    well, badly = reading(ending_well).score, reading(ending_badly).score
    assert well - badly > 10
    assert well == pytest.approx(35.75, abs=0.01)
    assert badly == pytest.approx(22.58, abs=0.01)


# 5. Accumulation ----------------------------------------------------------------------------
def _monthly_small_touches(first_id: int = 10) -> list[Touch]:
    # One small positive touch a month; automatic journeys are cut every 90 days or so.
    return [touch(first_id + m, 30 * (m + 1), 1, 2, journey=2 + (30 * (m + 1)) // 91) for m in range(12)]


def test_steady_small_touches_lift_a_neutral_customer_more_than_one_touch() -> None:
    stream = reading(_monthly_small_touches(), 365).score
    single = reading([touch(10, 360, 1, 2, journey=5)], 365).score
    assert stream == pytest.approx(59.89, abs=0.01)
    assert single == pytest.approx(55.95, abs=0.01)
    assert stream > single > 50


def test_steady_small_touches_keep_a_good_memory_from_fading() -> None:
    good_year_ago = [touch(1, 0, 2, 4, journey=1)]
    alone = reading(good_year_ago, 365).score
    kept = reading(good_year_ago + _monthly_small_touches(), 365).score
    assert alone == pytest.approx(51.50, abs=0.01)
    assert kept == pytest.approx(61.24, abs=0.01)


# 6. Recovery --------------------------------------------------------------------------------
def test_resolved_complaint_ends_higher_than_the_same_complaint_left_alone() -> None:
    complaint = touch(1, 0, -1, 4, channel="complaint")
    left_alone = reading([complaint]).score
    unlinked = reading([complaint, touch(2, 2, 2, 3)]).score
    resolved = reading([complaint, touch(2, 2, 2, 3, resolves=1)]).score
    assert left_alone == pytest.approx(26.68, abs=0.01)
    assert unlinked == pytest.approx(45.55, abs=0.01)
    assert resolved == pytest.approx(52.61, abs=0.01)
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


def test_severe_slow_or_lukewarm_recovery_gets_no_paradox_bonus() -> None:
    severe = [touch(1, 0, -2, 5, channel="complaint"), touch(2, 1, 2, 3, resolves=1)]
    lukewarm = [touch(1, 0, -1, 4, channel="complaint"), touch(2, 1, 1, 3, resolves=1)]
    slow = [touch(1, 0, -1, 4, channel="complaint"), touch(2, 10, 2, 3, resolves=1)]
    quick = [touch(1, 0, -1, 4, channel="complaint"), touch(2, 1, 2, 3, resolves=1)]
    assert recompute(severe, P).paradox_recoveries == set()
    assert recompute(lukewarm, P).paradox_recoveries == set()
    assert recompute(slow, P).paradox_recoveries == set()
    assert recompute(quick, P).paradox_recoveries == {2}
    # A quick recovery is remembered better than a slow one (52.63 against 49.46).
    assert reading(quick).score == pytest.approx(52.63, abs=0.01)
    assert reading(slow).score == pytest.approx(49.46, abs=0.01)
    # Softened all the same: half of the sting times the recovery's quality (0.6, a day
    # later: 2^(-1/30) of it), never below what was felt (|x| = 1).
    impacts = felt_impacts(severe, P)
    assert impacts.value[1] == pytest.approx(-2.25 * (1 - 0.5 * 0.6 * 2 ** (-1 / 30)))


def test_the_first_excellent_quick_recovery_holds_the_paradox_bonus_even_when_linked_later() -> None:
    """docs/memory-score.md section 8: the one case where linking a recovery lowers the
    score. The bonus belongs to the complaint's first excellent, quick recovery; linking
    one earlier than the recovery that held it moves the bonus into the complaint's own
    journey, where it weighs less than as the peak of a journey of its own."""
    complaint = touch(1, 0, -1, 5, journey=2, channel="email")
    earlier = touch(2, 0.5, 2, 3, journey=2, channel="complaint")
    later = touch(3, 1, 2, 4, journey=1, channel="complaint", resolves=1)
    unlinked = [complaint, earlier, later]
    linked = [complaint, replace(earlier, resolves_id=1), later]
    assert recompute(unlinked, P).paradox_recoveries == {3}
    assert recompute(linked, P).paradox_recoveries == {2}
    assert reading(unlinked, 71).score == pytest.approx(66.08, abs=0.01)
    assert reading(linked, 71).score == pytest.approx(64.62, abs=0.01)


def test_complaint_resolved_on_first_contact_is_softened_at_once() -> None:
    plain = reading([touch(1, 0, -1, 4, channel="complaint")]).score
    fixed = reading([touch(1, 0, -1, 4, channel="complaint", first_contact=True)]).score
    assert plain == pytest.approx(26.68, abs=0.01)
    assert fixed == pytest.approx(33.84, abs=0.01)


# 7. Recency ---------------------------------------------------------------------------------
def _rich_history() -> list[Touch]:
    return [touch(i, i * 7, 1 if i % 5 else 2, 3, journey=1 + i // 6) for i in range(30)]


def test_memory_fades_half_the_distance_per_half_life() -> None:
    history = _rich_history()
    last_day = max(t.at for t in history) / SECONDS_PER_DAY
    now, one, two = (reading(history, last_day + d) for d in (0, 90, 180))
    assert one.value == pytest.approx(now.value / 2, rel=1e-12)
    assert two.value == pytest.approx(now.value / 4, rel=1e-12)
    assert (now.score, one.score, two.score) == pytest.approx((76.13, 65.45, 58.17), abs=0.01)


def test_every_memory_fades_at_the_same_pace_rich_or_thin() -> None:
    thin = [touch(1, 0, 2, 3)]
    for history in (thin, _rich_history()):
        last_day = max(t.at for t in history) / SECONDS_PER_DAY
        assert reading(history, last_day + 90).value == pytest.approx(reading(history, last_day).value / 2)


def test_half_life_is_a_setting() -> None:
    history = _rich_history()
    last_day = max(t.at for t in history) / SECONDS_PER_DAY
    short = MemoryParameters(half_life_days=30)
    now, later = reading(history, last_day, short), reading(history, last_day + 30, short)
    assert later.value == pytest.approx(now.value / 2, rel=1e-12)


# v2 behaviours: the review of the first model (issue "memory model v2") ---------------------
SEVERE = {"valence": -2, "intensity": 5, "channel": "complaint"}


def test_an_unrelated_neutral_touch_does_not_revive_an_old_memory() -> None:
    """v1: a severe complaint 180 days old read 24.5 and a neutral newsletter today took it
    back to 12.1. Now the newsletter changes nothing: the complaint keeps fading on its own clock."""
    complaint = touch(1, 0, journey=1, **SEVERE)  # type: ignore[arg-type]
    newsletter = touch(2, 180, 0, 1, journey=2, channel="newsletter")
    assert reading([complaint], 180).score == pytest.approx(33.84, abs=0.01)
    assert reading([complaint, newsletter]).score == pytest.approx(33.84, abs=0.01)


def test_a_new_touch_renews_only_its_own_journey() -> None:
    old_bad = touch(1, 0, journey=1, **SEVERE)  # type: ignore[arg-type]
    good_today = touch(2, 180, 1, 2, journey=2)
    before = reading([old_bad], 180)
    after = reading([old_bad, good_today])
    # The old journey is worth exactly what it was; the new one adds its own value.
    assert after.value - before.value == pytest.approx(recompute([good_today], P).state.value_at(good_today.at, P))
    assert after.score > before.score


def test_one_bad_day_is_not_ten() -> None:
    """v1: one severe complaint read 1.1 and ten read 1.1 (or 0.3). Now they stay apart."""
    one = reading([touch(1, 0, journey=1, **SEVERE)]).score  # type: ignore[arg-type]
    two = reading([touch(i, 7 * i, journey=i, **SEVERE) for i in (1, 2)]).score  # type: ignore[arg-type]
    ten = reading([touch(i, 7 * i, journey=i, **SEVERE) for i in range(1, 11)]).score  # type: ignore[arg-type]
    assert (one, two, ten) == pytest.approx((12.59, 6.13, 1.13), abs=0.01)
    great = [reading([touch(i, 7 * i, 2, 5, journey=i) for i in range(1, n + 1)]).score for n in (1, 2, 10)]
    assert great == pytest.approx([75.06, 85.51, 96.96], abs=0.01)


def test_repeated_failures_in_one_journey_count_up_to_a_bound() -> None:
    """Double deviation: the second and third failure add to the memory; from then on the
    cap (twice the worst failure, at half weight) holds."""
    complaints = [touch(i, 0.1 * i, -1, 4, channel="complaint") for i in range(1, 11)]
    scores = [reading(complaints[:n]).score for n in (1, 2, 3)]
    assert scores == pytest.approx([26.68, 20.02, 15.61], abs=0.01)
    ten = reading(complaints).score
    assert ten == pytest.approx(scores[2], abs=0.05)


def test_recovery_after_a_severe_failure_never_beats_never_failing() -> None:
    """v1: severe failure + excellent recovery scored above a customer who never failed."""
    complaint = touch(1, 0, journey=1, **SEVERE)  # type: ignore[arg-type]
    for intensity, recovered, never in ((3, 35.68, 67.06), (4, 41.44, 71.42), (5, 47.79, 75.06)):
        call = touch(2, 1, 2, intensity)
        with_failure = reading([complaint, replace(call, resolves_id=1)]).score
        assert with_failure == pytest.approx(recovered, abs=0.01)
        assert reading([call]).score == pytest.approx(never, abs=0.01)
        assert with_failure < never


def test_recovery_is_not_the_peak_and_never_softens_below_what_was_felt() -> None:
    complaint = touch(1, 0, journey=1, **SEVERE)  # type: ignore[arg-type]
    best_recovery = touch(2, 0.5, 2, 5, resolves=1)
    result = reading([complaint, best_recovery])
    assert result.peak is not None
    assert result.peak.touch_id == 1
    strongest = MemoryParameters(recovery_softening=1.0)
    assert felt_impacts([complaint, best_recovery], strongest).value[1] == pytest.approx(-1.0)
    # A moderate complaint (felt 0.675) with an excellent, quick recovery (0.6, +0.2 bonus):
    # softened to 0.47, it still holds the peak; neither softening nor bonus hand it over.
    moderate = [touch(1, 0, -1, 3, channel="complaint"), touch(2, 0.5, 2, 3, resolves=1)]
    impacts = felt_impacts(moderate, P)
    assert impacts.bonus == {2: 0.2}
    assert abs(impacts.value[1]) < impacts.value[2]
    assert reading(moderate).peak.touch_id == 1  # type: ignore[union-attr]
    # A faint complaint (0.225) answered by an unforgettable call (1.0): the call was the
    # stronger experience and is the peak on its own merit.
    faint = [touch(1, 0, -1, 1, channel="complaint"), touch(2, 0.5, 2, 5, resolves=1)]
    assert reading(faint).peak.touch_id == 2  # type: ignore[union-attr]


def test_neutral_touches_move_nothing() -> None:
    history = _rich_history()
    last = max(t.journey_id for t in history)
    for journey in (1, last, last + 1):
        neutral = touch(99, 100, 0, 5, journey=journey, channel="newsletter")
        assert reading([*history, neutral], 400).score == pytest.approx(reading(history, 400).score, abs=1e-9)


def test_lived_average_sits_beside_the_remembered_score() -> None:
    """Eight good calls and a severe complaint at the end: on average (the experience
    average, same loss aversion) the journey was about neutral; remembered by its peak and
    end, it is bad. The gap is what peak-end adds."""
    touches = [touch(i, i, 1, 3) for i in range(1, 9)] + [touch(9, 9.5, **SEVERE)]  # type: ignore[arg-type]
    result = reading(touches)
    assert result.lived_score == pytest.approx(50.21, abs=0.01)
    assert result.score == pytest.approx(23.04, abs=0.01)


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
    for x, y in zip(a.top_journeys, b.top_journeys, strict=True):
        assert x.value_at(a.as_of, P) == pytest.approx(y.value_at(b.as_of, P), abs=1e-9)
    assert a.lived_score == pytest.approx(b.lived_score, abs=1e-9)
    assert a.stages.keys() == b.stages.keys()
    for stage in a.stages:
        assert a.stages[stage]["value"] == pytest.approx(b.stages[stage]["value"], abs=1e-9)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
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
    shuffled = [*history[:10], history[12], history[10], history[11], *history[13:]]
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
    assert result.peak is not None
    assert result.peak.touch_id == 2
    assert result.end is not None
    assert result.end.touch_id == 4
    assert result.top_journeys[0].journey_id == 1
    data = result.to_dict()
    for key in ("score", "band", "value", "decay", "lived_score", "active", "top_journeys", "stages"):
        assert key in data
    assert data["peak"]["touch_id"] == 2
    assert data["stages"]["fulfilment"]["count"] == 4


def test_drivers_name_what_really_moved_the_score() -> None:
    """v1 named the peaks of the top three journeys and the latest touch: it missed a severe
    complaint in the fourth journey and named a neutral newsletter. The drivers are the
    touches whose removal moves the score most, with their signed points."""
    touches = [
        touch(1, 0, 2, 5, journey=1),
        touch(2, 30, 2, 5, journey=2),
        touch(3, 60, 2, 4, journey=3),
        touch(4, 100, -2, 5, journey=4, channel="complaint"),
        touch(5, 101, 2, 5, journey=4),
        touch(6, 102, 2, 4, journey=4),
        touch(7, 130, 0, 1, journey=5, channel="newsletter"),
    ]
    as_of = 130 * SECONDS_PER_DAY
    result = recompute(touches, P).state.read(as_of, P)
    assert [j.journey_id for j in result.top_journeys] == [3, 2, 1, 4]  # the complaint's journey is 4th
    found = drivers(touches, as_of, P, limit=5)
    assert [d.touch_id for d in found] == [4, 3, 2, 1, 5]
    assert [d.points for d in found] == pytest.approx([-11.70, 10.00, 9.90, 7.53, 4.39], abs=0.01)
    assert 7 not in {d.touch_id for d in drivers(touches, as_of, P, limit=10)}


def test_change_since_splits_fading_from_new_touches() -> None:
    history = [touch(1, 0, 2, 4, journey=1)]
    complaint = touch(2, 60, -2, 5, journey=2, channel="complaint")
    change = change_since([*history, complaint], 30 * SECONDS_PER_DAY, 61 * SECONDS_PER_DAY, P)
    assert change.score_then == pytest.approx(reading(history, 30).score)
    assert change.fading == pytest.approx(reading(history, 61).score - reading(history, 30).score)
    assert change.score_now == pytest.approx(change.score_then + change.fading + change.new_touches)
    assert [d.touch_id for d in change.drivers] == [2]
    assert change.drivers[0].points == pytest.approx(change.new_touches)


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
    assert params.loss_aversion == 3.0
    assert params.top_journeys == 2
    assert math.isclose(params.decay(params.half_life_seconds), 0.5)
