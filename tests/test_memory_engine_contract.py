"""The memory engine's smaller promises, each held exactly: parameter checks, bands at
their edges, the display formula, persistence round trips, and the reading's explanation
parts against the from-scratch computation. Pure: no Django, no database. These were
written against the mutants that survived the engine tests (docs/testing.md, mutation
testing)."""

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory.engine import (
    PARAMETER_LIMITS,
    SECONDS_PER_DAY,
    JourneyMemory,
    MemoryParameters,
    MemoryState,
    Touch,
    band_for,
    change_since,
    expected_gain,
    felt,
    parameter_problems,
    recompute,
    score_for,
    score_of,
)
from tests.memory_histories import histories

P = MemoryParameters()
DAY = SECONDS_PER_DAY
EXAMPLES = settings(max_examples=150, deadline=None, derandomize=True, database=None)


def _valid() -> dict[str, float]:
    return P.as_dict()


# -- parameter checks (docs/memory-score.md section 13: every value within its range) -------
def test_the_defaults_make_a_model() -> None:
    assert parameter_problems(_valid()) == {}


@pytest.mark.parametrize("name", sorted(PARAMETER_LIMITS))
def test_each_limit_is_inclusive_and_a_step_outside_is_named(name: str) -> None:
    low, high, _ = PARAMETER_LIMITS[name]
    for edge in (low, high):
        # At an edge the band order may be refused (good_above 1 cannot start above any
        # at-risk band), never the range.
        problems = parameter_problems({**_valid(), name: edge}).get(name, [])
        assert not any(p.startswith("Give a") for p in problems), (name, edge, problems)
    step = max(abs(high), 1.0) * 1e-6
    for outside in (low - step, high + step):
        assert parameter_problems({**_valid(), name: outside})[name] == [f"Give a number from {low:g} to {high:g}."]


@pytest.mark.parametrize("bad", ["2", None, True, math.nan, math.inf, -math.inf, [1.0]])
def test_anything_but_a_finite_number_is_refused(bad: object) -> None:
    assert parameter_problems({**_valid(), "loss_aversion": bad})["loss_aversion"] == ["Give a number."]


def test_a_missing_parameter_is_refused() -> None:
    values = _valid()
    del values["half_life_days"]
    assert parameter_problems(values) == {"half_life_days": ["Give a number."]}


def test_journeys_kept_must_be_whole_and_other_parameters_need_not() -> None:
    assert parameter_problems({**_valid(), "top_journeys": 2.5}) == {"top_journeys": ["Give a whole number."]}
    assert parameter_problems({**_valid(), "top_journeys": 3.0}) == {}
    assert parameter_problems({**_valid(), "half_life_days": 45.5}) == {}


def test_unknown_parameters_are_named_in_order() -> None:
    problems = parameter_problems({**_valid(), "zeta": 1, "alpha": 2})
    assert problems == {"parameters": ["Unknown parameter: alpha, zeta."]}


@pytest.mark.parametrize(("at_risk", "good", "refused"), [(50, 50, True), (60, 50, True), (50, 50.5, False)])
def test_the_good_band_must_start_above_the_at_risk_band(at_risk: float, good: float, refused: bool) -> None:
    problems = parameter_problems({**_valid(), "at_risk_below": at_risk, "good_above": good})
    assert problems == ({"good_above": ["The good band must start above the at-risk band."]} if refused else {})


def test_a_bad_band_value_is_named_alone_not_compared() -> None:
    assert parameter_problems({**_valid(), "at_risk_below": "x"}) == {"at_risk_below": ["Give a number."]}
    assert parameter_problems({**_valid(), "good_above": 120}) == {"good_above": ["Give a number from 1 to 99."]}


def test_parameters_round_trip_through_a_mapping() -> None:
    changed = replace(P, loss_aversion=3.0, top_journeys=7)
    again = MemoryParameters.from_mapping(changed.as_dict())
    assert again == changed and isinstance(again.top_journeys, int)
    assert set(changed.as_dict()) == set(PARAMETER_LIMITS)
    assert MemoryParameters.from_mapping({"top_journeys": 4.0, "unknown": 1}) == replace(P, top_journeys=4)


# -- the display and the bands (section 3) ----------------------------------------------------
@pytest.mark.parametrize(
    ("score", "band"),
    [(0.0, "at_risk"), (34.999, "at_risk"), (35.0, "neutral"), (50.0, "neutral"), (65.0, "neutral"), (65.001, "good")],
)
def test_bands_at_their_edges(score: float, band: str) -> None:
    assert band_for(score, P) == band


def test_the_display_is_logistic_in_asinh_and_symmetric_about_fifty() -> None:
    assert score_for(0.0, P) == 50.0
    for value in (0.1, 1.0, 3.0, 40.0):
        assert score_for(value, P) + score_for(-value, P) == pytest.approx(100.0)
        z = P.display_slope * math.asinh(value / P.display_scale)
        assert score_for(value, P) == pytest.approx(100.0 / (1.0 + math.exp(-z)))
    assert score_for(1.0, P) == pytest.approx(75.06, abs=0.01)  # one excellent call (section 3)
    wider = replace(P, display_scale=2.0)
    assert score_for(1.0, wider) < score_for(1.0, P)  # a larger scale: slower to leave 50


def test_loss_aversion_multiplies_bad_and_leaves_good() -> None:
    assert felt(0.6, P) == 0.6
    assert felt(-0.6, P) == pytest.approx(-0.6 * 2.25)
    assert felt(0.0, P) == 0.0


# -- persistence: what is stored reads back the same ------------------------------------------
@EXAMPLES
@given(histories(max_size=20), st.floats(0.0, 300.0))
def test_a_stored_state_reads_back_exactly(history: tuple[list[Touch], list[Touch]], days_later: float) -> None:
    touches, _ = history
    state = recompute(touches, P).state
    as_of = max(t.at for t in touches) + days_later * DAY
    stored = json.loads(json.dumps(state.to_dict()))  # as the database keeps it
    again = MemoryState.from_dict(stored)
    assert again == state
    assert again.read(as_of, P) == state.read(as_of, P)
    assert again.to_dict() == state.to_dict()


def test_a_state_of_another_format_reads_as_empty_and_cannot_append() -> None:
    touch = Touch(1, 0.0, 1, "fulfilment", "call", 1, 3)
    state = recompute([touch], P).state
    assert MemoryState.from_dict({**state.to_dict(), "format": 1}) == MemoryState()
    assert MemoryState.from_dict(None) == MemoryState() == MemoryState.from_dict({})


@EXAMPLES
@given(histories(max_size=20))
def test_journey_memories_round_trip(history: tuple[list[Touch], list[Touch]]) -> None:
    touches, _ = history
    for journey in recompute(touches, P).journeys.values():
        assert JourneyMemory.from_dict(json.loads(json.dumps(journey.to_dict()))) == journey


@EXAMPLES
@given(histories(max_size=20), st.floats(0.0, 300.0))
def test_a_reading_says_what_it_holds(history: tuple[list[Touch], list[Touch]], days_later: float) -> None:
    touches, _ = history
    as_of = max(t.at for t in touches) + days_later * DAY
    reading = recompute(touches, P).state.read(as_of, P)
    data = reading.to_dict()
    assert data["as_of"] == as_of and data["score"] == reading.score
    assert reading.score == pytest.approx(score_of(touches, as_of, P), abs=1e-9)
    assert data["band"] == band_for(reading.score, P) and data["touch_count"] == len(touches)
    assert data["value"] == reading.value and data["decay"] == reading.decay
    assert data["decay"] == pytest.approx(P.decay(days_later * DAY))
    assert data["lived_score"] == reading.lived_score
    assert data["active"] == (reading.active.to_dict() if reading.active else None)
    assert data["top_journeys"] == [j.to_dict() for j in reading.top_journeys]
    assert data["stages"] == reading.stages
    assert data["peak"] == (reading.peak.to_dict() if reading.peak else None)
    assert data["end"] == (reading.end.to_dict() if reading.end else None)
    stage_counts = {s: sum(1 for t in touches if t.stage == s and t.valence != 0) for s in reading.stages}
    assert {s: int(v["count"]) for s, v in reading.stages.items()} == stage_counts


# -- the running state's explanation parts, against the from-scratch computation --------------
@EXAMPLES
@given(histories(max_size=20))
def test_the_active_journey_known_to_the_running_state_is_the_recomputed_one(
    history: tuple[list[Touch], list[Touch]],
) -> None:
    touches, _ = history
    state = MemoryState()
    for touch in sorted(touches, key=lambda t: t.order_key):
        if not state.can_append(touch):
            return  # this history needs a recompute: covered by the running-state tests
        state.append(touch, P)
    whole = recompute(touches, P)
    [(journey_id, active)] = state.journey_values(P).items()
    assert journey_id == whole.state.active_journey_id
    expected = whole.journeys[journey_id]
    assert active.value == pytest.approx(expected.value, rel=1e-9, abs=1e-12)
    assert (active.count, active.peak and active.peak.touch_id) == (
        expected.count,
        expected.peak and expected.peak.touch_id,
    )
    assert MemoryState().journey_values(P) == {}


@EXAMPLES
@given(histories(max_size=20), st.integers(-2, 2), st.integers(1, 5), st.floats(0.0, 60.0), st.booleans())
def test_the_expected_gain_of_one_more_touch_is_the_score_it_would_add(
    history: tuple[list[Touch], list[Touch]], valence: int, intensity: int, days_later: float, new_journey: bool
) -> None:
    touches, _ = history
    state = recompute(touches, P).state
    last = max(touches, key=lambda t: t.order_key)
    journey = (state.max_journey_id + 1) if new_journey else last.journey_id
    extra = Touch(last.id + 1000, last.at + days_later * DAY, journey, "fulfilment", "call", valence, intensity)
    as_of = extra.at + 5 * DAY
    gain = expected_gain(state, extra, as_of, P)
    assert gain == pytest.approx(score_of([*touches, extra], as_of, P) - score_of(touches, as_of, P), abs=1e-9)
    assert state == recompute(touches, P).state  # asking does not change the state
    earlier = replace(extra, at=last.at - DAY)
    assert expected_gain(state, earlier, as_of, P) == 0.0  # it would rewrite history: no estimate


@EXAMPLES
@given(histories(max_size=20), st.floats(0.0, 1.0), st.floats(0.0, 60.0))
def test_change_since_splits_the_move_into_fading_and_new_touches(
    history: tuple[list[Touch], list[Touch]], cut: float, days_later: float
) -> None:
    touches, _ = history
    first, last = min(t.at for t in touches), max(t.at for t in touches)
    since = first + cut * (last - first)
    as_of = last + days_later * DAY
    known = [t for t in touches if t.at <= since]
    change = change_since(touches, since, as_of, P, limit=3)
    assert change.since == since
    assert change.score_then == pytest.approx(score_of(known, since, P))
    assert change.score_now == pytest.approx(score_of(touches, as_of, P))
    assert change.fading == pytest.approx(score_of(known, as_of, P) - change.score_then)
    assert change.fading + change.new_touches == pytest.approx(change.score_now - change.score_then)
    newer = {t.id for t in touches if t.at > since}
    assert {d.touch_id for d in change.drivers} <= newer and len(change.drivers) <= 3
    if newer and any(t.valence != 0 for t in touches if t.id in newer):
        assert change.drivers
