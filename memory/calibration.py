"""Fit the memory model to the ratings customers gave, and compare it with peers' scores.

Pure Python, no Django. For every survey answer (CSAT or NPS) the predictors see only
what happened *before* it: the memory score, and the baselines health-score tools use
(plain average of valence, a recency-weighted average of valence x intensity, the last
interaction only, a points sum) and the experience average (what the customer lived
through). The fit is a grid search over alpha, lambda and the half-life on a training
share of customers; the report gives Spearman's rank correlation on the held-out
customers with a customer-level bootstrap 95% interval, so a fit that only memorised its
training data, or a difference within the noise, shows up as such. The display slope is
fitted apart, by likelihood: the score is read as the chance of a good answer.
"""

from __future__ import annotations

import itertools
import math
import random
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from memory.engine import SECONDS_PER_DAY, MemoryParameters, Touch, memory_value, recompute, score_for

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
LAMBDAS = (1.0, 1.5, 2.25, 3.0)
HALF_LIVES = (30.0, 60.0, 90.0, 180.0, 365.0)
DISPLAY_SLOPES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
# A "good" answer for the display fit: NPS 7 or more (passive or promoter), CSAT 4 or 5.
GOOD_ANSWER = 0.7
RECENCY_HALF_LIFE_DAYS = 60.0
BOOTSTRAP_SAMPLES = 400


@dataclass(frozen=True)
class Answer:
    """A survey answer: its time, and the rating scaled to 0..1."""

    at: float
    rating: float


@dataclass(frozen=True)
class CustomerRatings:
    customer_id: int
    touches: Sequence[Touch]  # every touch, in any order; surveys included
    answers: Sequence[Answer]
    survey_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Score:
    name: str
    train: float
    held_out: float
    n_held_out: int
    low: float = math.nan  # bootstrap 95% interval of the held-out rho
    high: float = math.nan


@dataclass(frozen=True)
class Report:
    fitted: MemoryParameters
    scores: list[Score]
    n_answers: int
    n_customers: int


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); nan when undefined."""
    if len(xs) < 3:
        return math.nan
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx and vy else math.nan


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def _before(customer: CustomerRatings, answer: Answer) -> list[Touch]:
    return [t for t in customer.touches if t.at < answer.at and t.id not in customer.survey_ids]


Predictor = Callable[[list[Touch], float], float | None]


def memory_predictor(params: MemoryParameters) -> Predictor:
    def predict(history: list[Touch], at: float) -> float | None:
        if not history:
            return None
        return recompute(history, params).state.read(at, params).score

    return predict


def average_valence(history: list[Touch], at: float) -> float | None:
    return sum(t.valence for t in history) / len(history) if history else None


def last_interaction(history: list[Touch], at: float) -> float | None:
    return float(max(history, key=lambda t: t.order_key).valence) if history else None


def points_sum(history: list[Touch], at: float) -> float | None:
    return float(sum(t.valence for t in history)) if history else None


def recency_weighted_average(history: list[Touch], at: float) -> float | None:
    """Valence x intensity averaged with weights halving every 60 days: the strongest
    simple baseline (it has recency, and no peak, end or loss aversion)."""
    if not history:
        return None
    weights = [math.pow(2.0, -(at - t.at) / (RECENCY_HALF_LIFE_DAYS * SECONDS_PER_DAY)) for t in history]
    return sum(w * t.valence * t.intensity for w, t in zip(weights, history, strict=True)) / sum(weights)


def experience_average(params: MemoryParameters) -> Predictor:
    def predict(history: list[Touch], at: float) -> float | None:
        if not history:
            return None
        return recompute(history, params).state.read(at, params).lived_score

    return predict


def _pairs_by_customer(customers: Iterable[CustomerRatings], predict: Predictor) -> list[list[tuple[float, float]]]:
    groups = []
    for customer in customers:
        pairs = []
        for answer in customer.answers:
            value = predict(_before(customer, answer), answer.at)
            if value is not None:
                pairs.append((value, answer.rating))
        groups.append(pairs)
    return groups


def _pairs(customers: Iterable[CustomerRatings], predict: Predictor) -> tuple[list[float], list[float]]:
    flat = [pair for group in _pairs_by_customer(customers, predict) for pair in group]
    return [x for x, _ in flat], [y for _, y in flat]


def bootstrap_interval(
    groups: Sequence[Sequence[tuple[float, float]]], samples: int = BOOTSTRAP_SAMPLES
) -> tuple[float, float]:
    """95% percentile interval of Spearman's rho, resampling customers (a customer's
    answers are not independent of each other). Seeded: the same data, the same interval."""
    rng = random.Random(7)  # noqa: S311 - statistics, not security
    groups = [g for g in groups if g]
    if len(groups) < 3:
        return math.nan, math.nan
    rhos = []
    for _ in range(samples):
        drawn = [pair for _ in groups for pair in groups[rng.randrange(len(groups))]]
        rho = spearman([x for x, _ in drawn], [y for _, y in drawn])
        if not math.isnan(rho):
            rhos.append(rho)
    if not rhos:
        return math.nan, math.nan
    rhos.sort()
    return rhos[int(0.025 * (len(rhos) - 1))], rhos[int(math.ceil(0.975 * (len(rhos) - 1)))]


def fit_display_slope(customers: Iterable[CustomerRatings], params: MemoryParameters) -> float:
    """The display slope under which the score best reads as the chance of a good answer
    (Bernoulli log-likelihood over a grid; the scale and 50 = neutral stay fixed)."""
    values: list[tuple[float, bool]] = []
    for customer in customers:
        for answer in customer.answers:
            history = _before(customer, answer)
            if history:
                values.append((memory_value(history, answer.at, params), answer.rating >= GOOD_ANSWER))
    if not values:
        return params.display_slope

    def likelihood(slope: float) -> float:
        trial = replace(params, display_slope=slope)
        total = 0.0
        for value, good in values:
            p = min(max(score_for(value, trial) / 100.0, 1e-9), 1.0 - 1e-9)
            total += math.log(p if good else 1.0 - p)
        return total

    return max(DISPLAY_SLOPES, key=likelihood)


def _split(customers: Sequence[CustomerRatings], held_out_share: float) -> tuple[list[CustomerRatings], ...]:
    # A stable hash of the id, so the same customers are held out on every run.
    def held_out(c: CustomerRatings) -> bool:
        return (zlib.crc32(str(c.customer_id).encode()) % 1000) < held_out_share * 1000

    return [c for c in customers if not held_out(c)], [c for c in customers if held_out(c)]


def calibrate(
    customers: Sequence[CustomerRatings],
    base: MemoryParameters,
    *,
    held_out_share: float = 0.3,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    train, test = _split(customers, held_out_share)
    grid = list(itertools.product(ALPHAS, LAMBDAS, HALF_LIVES))
    best, best_rho = base, -math.inf
    for step, (alpha, lam, half_life) in enumerate(grid, start=1):
        params = replace(base, peak_end_weight=alpha, loss_aversion=lam, half_life_days=half_life)
        rho = spearman(*_pairs(train, memory_predictor(params)))
        if not math.isnan(rho) and rho > best_rho:
            best, best_rho = params, rho
        if progress:
            progress(step, len(grid))

    best = replace(best, display_slope=fit_display_slope(train, best))

    predictors: list[tuple[str, Predictor]] = [
        ("memory score (fitted)", memory_predictor(best)),
        ("memory score (defaults)", memory_predictor(base)),
        ("experience average (lived)", experience_average(base)),
        ("recency-weighted average", recency_weighted_average),
        ("plain average of valence", average_valence),
        ("last interaction only", last_interaction),
        ("points sum", points_sum),
    ]
    scores = []
    for name, predict in predictors:
        groups = _pairs_by_customer(test, predict)
        held = [pair for group in groups for pair in group]
        rho = spearman([x for x, _ in held], [y for _, y in held])
        low, high = bootstrap_interval(groups)
        scores.append(Score(name, spearman(*_pairs(train, predict)), rho, len(held), low, high))
    return Report(
        fitted=best,
        scores=scores,
        n_answers=sum(len(c.answers) for c in customers),
        n_customers=len(customers),
    )
