"""The backtest on synthetic customers with a known answer, and without leakage."""

import math
import random
from dataclasses import replace

import pytest

from memory.calibration import Answer, average_valence, memory_predictor
from memory.engine import SECONDS_PER_DAY, MemoryParameters, Touch
from outcomes.backtest import MEMORY, MIN_CUSTOMERS, CustomerHistory, backtest, rolling_cutoffs

PARAMS = MemoryParameters()
T = 1_000 * SECONDS_PER_DAY  # the cut-off


def _touches(customer_id: int, rng: random.Random) -> list[Touch]:
    """A year of touchpoints in a few journeys, each with a mood of its own: some end
    badly after a good run (peak-end and average disagree), some the other way round."""
    touches, next_id = [], customer_id * 1000
    for journey in range(rng.randint(2, 4)):
        start = T - rng.uniform(20, 360) * SECONDS_PER_DAY
        mood = rng.choice([-1, 0, 1])
        for step in range(rng.randint(3, 8)):
            valence = max(-2, min(2, mood + rng.choice([-1, 0, 0, 1])))
            at = start + step * rng.uniform(0.5, 4) * SECONDS_PER_DAY
            if at >= T:
                continue
            next_id += 1
            touches.append(Touch(next_id, at, customer_id * 10 + journey, "fulfilment", "call", valence, 3))
    return touches or [Touch(customer_id * 1000, T - SECONDS_PER_DAY, customer_id * 10, "fulfilment", "call", 0, 3)]


def _population(driver: str, n: int = 420, seed: int = 3) -> list[CustomerHistory]:
    rng = random.Random(seed)
    memory = memory_predictor(PARAMS)
    histories = []
    for cid in range(1, n + 1):
        touches = _touches(cid, rng)
        if driver == "memory":
            signal = ((memory(touches, T) or 50.0) - 50.0) / 15.0
        else:
            signal = (average_valence(touches, T) or 0.0) / 0.6
        churn_chance = 1 / (1 + math.exp(2.5 * signal + 0.3))
        lifecycle = [(T + rng.uniform(1, 80) * SECONDS_PER_DAY, "churned")] if rng.random() < churn_chance else []
        histories.append(CustomerHistory(cid, touches, lifecycle=lifecycle))  # type: ignore[arg-type]
    return histories


def _auc_ranking(histories: list[CustomerHistory]) -> list[str]:
    report = backtest(histories, cutoff=T, params=PARAMS)
    assert report.enough_for_churn, (report.customers, report.churned)
    ranked = sorted((p for p in report.predictors if p.churn_auc.known), key=lambda p: -p.churn_auc.value)
    return [p.name for p in ranked]


def test_when_the_remembered_peak_and_end_drive_churn_the_memory_score_ranks_first() -> None:
    assert _auc_ranking(_population("memory"))[0] == MEMORY


def test_when_the_plain_average_drives_churn_the_memory_score_does_not_rank_first() -> None:
    ranking = _auc_ranking(_population("average"))
    assert ranking[0] != MEMORY
    assert ranking.index("plain average") < ranking.index(MEMORY)


def test_nothing_after_the_cutoff_changes_the_scores() -> None:
    """No leakage: a tell-tale touchpoint after T (a furious complaint from every customer
    who will churn) leaves every figure of the report as it was."""
    histories = _population("memory", n=260)
    told = [
        replace(
            h, touches=[*h.touches, Touch(h.customer_id * 1000 + 999, T + 3600, 1, "evaluation", "complaint", -2, 5)]
        )
        if h.lifecycle
        else h
        for h in histories
    ]
    assert backtest(told, cutoff=T, params=PARAMS) == backtest(histories, cutoff=T, params=PARAMS)


def test_customers_gone_before_the_cutoff_are_not_scored_and_surveys_are_compared() -> None:
    histories = _population("memory", n=240)
    gone = replace(histories[0], lifecycle=[(T - 5 * SECONDS_PER_DAY, "churned")])
    answers = [
        replace(h, answers=[Answer(T + 10 * SECONDS_PER_DAY, 0.0 if h.lifecycle else 1.0)]) for h in histories[1:]
    ]
    report = backtest([gone, *answers], cutoff=T, params=PARAMS)
    assert report.customers == 239
    assert report.surveyed == 239
    memory = next(p for p in report.predictors if p.name == MEMORY)
    assert memory.spearman_survey.n == 239
    assert memory.spearman_survey.low < memory.spearman_survey.value
    assert memory.spearman_survey.value > 0.2
    assert len(report.deciles) == 10
    assert sum(d.customers for d in report.deciles) == 239
    # More churn among the lowest scores than among the highest: the calibration chart's shape.
    assert report.deciles[0].churn_rate > report.deciles[-1].churn_rate


def test_below_the_minimum_of_data_the_report_recommends_nothing() -> None:
    small = _population("memory", n=MIN_CUSTOMERS - 20)
    sentences = backtest(small, cutoff=T, params=PARAMS).verdict()
    assert all(s.startswith("Not enough data") and "Nothing is recommended" in s for s in sentences)


@pytest.mark.parametrize(("span_days", "expected"), [(300, 0), (365 + 90, 1), (365 + 90 + 91 * 3, 4)])
def test_rolling_cutoffs_are_quarterly_and_leave_a_full_window(span_days: int, expected: int) -> None:
    cutoffs = rolling_cutoffs(0.0, span_days * SECONDS_PER_DAY, window_days=90)
    assert len(cutoffs) == expected
    assert all(c + 90 * SECONDS_PER_DAY <= span_days * SECONDS_PER_DAY + 1e-6 for c in cutoffs)
