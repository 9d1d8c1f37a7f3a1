"""Does the memory score predict what customers do? A backtest, no Django.

For a cut-off date T, every customer's score is computed from the touchpoints *before* T
only (nothing after T can leak in), and compared with what happened in the window after T
(90 days by default): did they churn, and how did they answer surveys? The memory score
stands beside the baselines other health scores use, on the same customers:

- plain average of valence; recency-weighted average of valence x intensity (60-day
  half-life); the last touch alone; the last survey answer; a points sum; and the
  experience average (what the customer lived through: the same traces, journey means).

Metrics, each with a customer-level bootstrap 95% interval and the n behind it:
Spearman's rank correlation with the survey answers in the window (scipy); for churn,
ROC AUC (scikit-learn) of the score read as a risk (lower score, higher risk), and the
Brier score of a churn probability fitted to the score out of fold (5-fold logistic
regression, so no customer is scored by a fit that saw it); precision and recall of the
at-risk band; the churn rate per score decile.

Below MIN_CUSTOMERS customers or MIN_EVENTS outcome events the report says so and
recommends nothing: with fewer, the intervals are too wide for any verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from memory.calibration import (
    Answer,
    Predictor,
    average_valence,
    experience_average,
    last_interaction,
    memory_predictor,
    points_sum,
    recency_weighted_average,
)
from memory.engine import SECONDS_PER_DAY, MemoryParameters, Touch

MIN_CUSTOMERS = 200
MIN_EVENTS = 100
BOOTSTRAP_SAMPLES = 300
DECILES = 10
MEMORY = "memory score"
Lifecycle = Literal["renewed", "expanded", "downgraded", "churned"]


@dataclass(frozen=True)
class CustomerHistory:
    """Everything known of one customer: touches (surveys included), survey answers (rating
    scaled 0..1) and lifecycle outcomes, all timed in UTC epoch seconds."""

    customer_id: int
    touches: Sequence[Touch]
    answers: Sequence[Answer] = ()
    survey_ids: frozenset[int] = frozenset()
    lifecycle: Sequence[tuple[float, Lifecycle]] = ()

    def churned_by(self, at: float) -> bool:
        """Whether their latest lifecycle outcome up to `at` is a churn: gone before T."""
        before = [kind for when, kind in sorted(self.lifecycle) if when <= at]
        return bool(before) and before[-1] == "churned"


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int

    @property
    def known(self) -> bool:
        return not math.isnan(self.value)


NO_ESTIMATE = Estimate(math.nan, math.nan, math.nan, 0)


@dataclass(frozen=True)
class PredictorResult:
    name: str
    spearman_survey: Estimate
    churn_auc: Estimate
    brier: Estimate


@dataclass(frozen=True)
class Decile:
    low_score: float
    high_score: float
    customers: int
    churn_rate: float
    survey_mean: float | None


@dataclass
class Report:
    cutoff: float
    window_days: int
    customers: int
    churned: int
    surveyed: int
    predictors: list[PredictorResult] = field(default_factory=list)
    at_risk_precision: Estimate = NO_ESTIMATE
    at_risk_recall: Estimate = NO_ESTIMATE
    deciles: list[Decile] = field(default_factory=list)

    @property
    def enough_for_churn(self) -> bool:
        return self.customers >= MIN_CUSTOMERS and self.churned >= MIN_EVENTS

    @property
    def enough_for_surveys(self) -> bool:
        return self.customers >= MIN_CUSTOMERS and self.surveyed >= MIN_EVENTS

    def verdict(self) -> list[str]:
        """What the report supports saying, in words, and nothing more."""
        sentences = []
        checks: list[tuple[str, bool, str, Callable[[PredictorResult], Estimate]]] = [
            ("churn (ROC AUC)", self.enough_for_churn, f"{self.churned} churns", lambda p: p.churn_auc),
            ("survey answers (Spearman)", self.enough_for_surveys, f"{self.surveyed} answering",
             lambda p: p.spearman_survey),
        ]  # fmt: skip
        for metric, enough, events, pick in checks:
            if not enough:
                sentences.append(
                    f"Not enough data to judge {metric}: {self.customers} customers and {events}; "
                    f"a verdict needs at least {MIN_CUSTOMERS} customers and {MIN_EVENTS} events. Nothing is "
                    "recommended."
                )
                continue
            sentences.append(_compare(metric, [(p.name, pick(p)) for p in self.predictors]))
        return sentences


def _compare(metric: str, estimates: list[tuple[str, Estimate]]) -> str:
    known = [(name, e) for name, e in estimates if e.known]
    memory = dict(known).get(MEMORY)
    others = [(name, e) for name, e in known if name != MEMORY]
    if memory is None or not others:
        return f"For {metric}, the memory score could not be compared with a baseline."
    best_name, best = max(others, key=lambda item: item[1].value)
    if memory.low > best.high:
        return (
            f"For {metric}, the memory score ({memory.value:.2f}) beats the best baseline, {best_name} "
            f"({best.value:.2f}), beyond the intervals."
        )
    if memory.high < best.low:
        return (
            f"For {metric}, the memory score ({memory.value:.2f}) does worse than {best_name} ({best.value:.2f}), "
            "beyond the intervals."
        )
    return (
        f"For {metric}, the memory score ({memory.value:.2f}) and the best baseline, {best_name} "
        f"({best.value:.2f}), are within each other's intervals: no difference can be claimed."
    )


def last_survey_answer(answers_before: Sequence[Answer]) -> float | None:
    return max(answers_before, key=lambda a: a.at).rating if answers_before else None


def predictors(params: MemoryParameters) -> dict[str, Predictor]:
    return {
        MEMORY: memory_predictor(params),
        "experience average": experience_average(params),
        "recency-weighted average": recency_weighted_average,
        "plain average": average_valence,
        "last touch": last_interaction,
        "points sum": points_sum,
    }


@dataclass(frozen=True)
class _Row:
    features: dict[str, float | None]
    churned: bool
    survey: float | None


def _rows(
    histories: Sequence[CustomerHistory], cutoff: float, window: float, params: MemoryParameters, *, baselines: bool
) -> list[_Row]:
    chosen = predictors(params) if baselines else {MEMORY: memory_predictor(params)}
    rows = []
    for customer in histories:
        if customer.churned_by(cutoff):
            continue  # gone before T: nothing left to predict
        before = [t for t in customer.touches if t.at < cutoff and t.id not in customer.survey_ids]
        if not before:
            continue
        features: dict[str, float | None] = {name: predict(before, cutoff) for name, predict in chosen.items()}
        if baselines:
            features["last survey answer"] = last_survey_answer([a for a in customer.answers if a.at < cutoff])
        after = [a.rating for a in customer.answers if cutoff <= a.at < cutoff + window]
        churned = any(kind == "churned" and cutoff <= when < cutoff + window for when, kind in customer.lifecycle)
        rows.append(_Row(features, churned, sum(after) / len(after) if after else None))
    return rows


def _bootstrap(values: Callable[[np.ndarray], float], n: int, rng: np.random.Generator) -> tuple[float, float]:
    draws = []
    for _ in range(BOOTSTRAP_SAMPLES):
        value = values(rng.integers(0, n, n))
        if not math.isnan(value):
            draws.append(value)
    if len(draws) < BOOTSTRAP_SAMPLES // 2:
        return math.nan, math.nan
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    return float(spearmanr(x, y).statistic)


def _auc(risk: np.ndarray, churned: np.ndarray) -> float:
    if churned.all() or not churned.any():
        return math.nan
    return float(roc_auc_score(churned, risk))


def _estimate(metric: Callable[[np.ndarray], float], n: int, rng: np.random.Generator) -> Estimate:
    if n == 0:
        return NO_ESTIMATE
    value = metric(np.arange(n))
    if math.isnan(value):
        return Estimate(math.nan, math.nan, math.nan, n)
    low, high = _bootstrap(metric, n, rng)
    return Estimate(value, low, high, n)


def _out_of_fold_churn_probability(x: np.ndarray, churned: np.ndarray) -> np.ndarray | None:
    folds = min(5, int(churned.sum()), int((~churned).sum()))
    if folds < 2:
        return None
    model = LogisticRegression()
    scaled = (x - x.mean()) / (x.std() or 1.0)
    probabilities = cross_val_predict(
        model, scaled.reshape(-1, 1), churned, cv=StratifiedKFold(folds, shuffle=True, random_state=0),
        method="predict_proba",
    )  # fmt: skip
    return np.asarray(probabilities[:, 1])


def _predictor_result(name: str, rows: list[_Row], rng: np.random.Generator) -> PredictorResult:
    present = [r for r in rows if r.features[name] is not None]
    x = np.array([r.features[name] for r in present], dtype=float)
    churned = np.array([r.churned for r in present], dtype=bool)
    surveyed = [i for i, r in enumerate(present) if r.survey is not None]
    xs = x[surveyed]
    ys = np.array([present[i].survey for i in surveyed], dtype=float)
    spearman = _estimate(lambda idx: _spearman(xs[idx], ys[idx]), len(surveyed), rng)
    auc = _estimate(lambda idx: _auc(-x[idx], churned[idx]), len(present), rng)
    probability = _out_of_fold_churn_probability(x, churned) if len(present) else None
    if probability is None:
        brier = NO_ESTIMATE
    else:
        squared = (probability - churned) ** 2
        brier = _estimate(lambda idx: float(squared[idx].mean()), len(present), rng)
    return PredictorResult(name, spearman, auc, brier)


def _deciles(rows: list[_Row]) -> list[Decile]:
    scored = sorted(
        ((r.features[MEMORY], r) for r in rows if r.features[MEMORY] is not None), key=lambda item: item[0] or 0.0
    )
    if len(scored) < DECILES:
        return []
    result = []
    for part in np.array_split(np.arange(len(scored)), DECILES):
        chunk = [scored[i] for i in part]
        surveys = [r.survey for _, r in chunk if r.survey is not None]
        result.append(
            Decile(
                low_score=float(chunk[0][0] or 0.0),
                high_score=float(chunk[-1][0] or 0.0),
                customers=len(chunk),
                churn_rate=sum(r.churned for _, r in chunk) / len(chunk),
                survey_mean=sum(surveys) / len(surveys) if surveys else None,
            )
        )
    return result


def _at_risk_band(rows: list[_Row], params: MemoryParameters, rng: np.random.Generator) -> tuple[Estimate, Estimate]:
    present = [r for r in rows if r.features[MEMORY] is not None]
    flagged = np.array([(r.features[MEMORY] or 0.0) < params.at_risk_below for r in present], dtype=bool)
    churned = np.array([r.churned for r in present], dtype=bool)

    def precision(idx: np.ndarray) -> float:
        return float(churned[idx][flagged[idx]].mean()) if flagged[idx].any() else math.nan

    def recall(idx: np.ndarray) -> float:
        return float(flagged[idx][churned[idx]].mean()) if churned[idx].any() else math.nan

    return _estimate(precision, len(present), rng), _estimate(recall, len(present), rng)


def backtest(
    histories: Sequence[CustomerHistory],
    *,
    cutoff: float,
    params: MemoryParameters,
    window_days: int = 90,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 7,
    baselines: bool = True,
) -> Report:
    """The report for one cut-off (UTC epoch seconds); deterministic for a seed. Without
    `baselines`, the memory score alone (a draft beside the version in force)."""
    rows = _rows(histories, cutoff, window_days * SECONDS_PER_DAY, params, baselines=baselines)
    rng = np.random.default_rng(seed)
    names = [*predictors(params), "last survey answer"] if baselines else [MEMORY]
    report = Report(
        cutoff=cutoff,
        window_days=window_days,
        customers=len(rows),
        churned=sum(r.churned for r in rows),
        surveyed=sum(r.survey is not None for r in rows),
    )
    for done, name in enumerate(names, start=1):
        report.predictors.append(_predictor_result(name, rows, rng))
        if progress:
            progress(done, len(names))
    report.at_risk_precision, report.at_risk_recall = _at_risk_band(rows, params, rng)
    report.deciles = _deciles(rows)
    return report


def rolling_cutoffs(first: float, last: float, *, window_days: int, every_days: int = 91) -> list[float]:
    """Quarterly cut-offs from a year after the first touch (a history to score) to the last
    one whose window has fully passed by `last`."""
    start, end = first + 365 * SECONDS_PER_DAY, last - window_days * SECONDS_PER_DAY
    count = int((end - start) // (every_days * SECONDS_PER_DAY)) + 1 if end >= start else 0
    return [end - i * every_days * SECONDS_PER_DAY for i in range(count)][::-1]
