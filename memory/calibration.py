"""Fit the memory model to the ratings customers gave, and compare it with peers' scores.

Pure Python, no Django. For every survey answer (CSAT or NPS) the predictors see only
what happened *before* it: the memory score, and three baselines health-score tools use
(plain average of valence, the last interaction only, a points sum). The fit is a grid
search over alpha, lambda and the half-life on a training share of customers; the report
gives Spearman's rank correlation on the held-out customers, so a fit that only memorised
its training data shows up as such.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from memory.engine import MemoryParameters, Touch, recompute

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
LAMBDAS = (1.0, 1.5, 2.25, 3.0)
HALF_LIVES = (30.0, 60.0, 90.0, 180.0, 365.0)


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


def _pairs(customers: Iterable[CustomerRatings], predict: Predictor) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for customer in customers:
        for answer in customer.answers:
            value = predict(_before(customer, answer), answer.at)
            if value is not None:
                xs.append(value)
                ys.append(answer.rating)
    return xs, ys


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

    predictors: list[tuple[str, Predictor]] = [
        ("memory score (fitted)", memory_predictor(best)),
        ("memory score (defaults)", memory_predictor(base)),
        ("plain average of valence", average_valence),
        ("last interaction only", last_interaction),
        ("points sum", points_sum),
    ]
    scores = []
    for name, predict in predictors:
        held_x, held_y = _pairs(test, predict)
        scores.append(Score(name, spearman(*_pairs(train, predict)), spearman(held_x, held_y), len(held_x)))
    return Report(
        fitted=best,
        scores=scores,
        n_answers=sum(len(c.answers) for c in customers),
        n_customers=len(customers),
    )
