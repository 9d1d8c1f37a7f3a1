"""Fit the memory model to the ratings customers gave, and compare it with peers' scores.

Pure Python, no Django. For every survey answer (CSAT or NPS) the predictors see only
what happened *before* it: the memory score, the baselines health-score tools use (plain
average of valence, a recency-weighted average of valence x intensity, the last
interaction only, a points sum) and the experience average (what the customer lived
through).

The fit runs in three stages, each a grid in which the parameters in force come first
(so a tie keeps them):
1. alpha, lambda and the half-life, for the best Spearman rank correlation;
2. the recovery parameters (softening, its half-life, the paradox bonus), the same way,
   on top of the first stage's choice;
3. the display mapping (slope and scale), by likelihood: the score read as the chance of
   a good answer.

Validation is grouped and time-based. Customers fall into FOLDS groups by a stable hash
of their id; answers split at the time before which two thirds of them were given. Each
fold fits on the earlier answers of the other groups and is judged on the recent answers
of its own group, so no fit sees the customer or the period it is judged on. Pooled over
the folds, every recent answer is predicted once, out of sample: the report gives
Spearman's rho there with a customer-level bootstrap 95% interval, and for each fitted
parameter the range the fold fits spread over (how much the value depends on which
customers and which period it was fitted on).
"""

from __future__ import annotations

import itertools
import math
import random
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from memory.engine import SECONDS_PER_DAY, MemoryParameters, Touch, memory_value, recompute, score_for

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
LAMBDAS = (1.0, 1.5, 2.25, 3.0)
HALF_LIVES = (30.0, 60.0, 90.0, 180.0, 365.0)
RECOVERY_SOFTENINGS = (0.0, 0.25, 0.5, 0.75, 1.0)
RECOVERY_HALF_LIVES = (7.0, 30.0, 90.0)
PARADOX_BONUSES = (0.0, 0.2, 0.4)
DISPLAY_SLOPES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
DISPLAY_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
FITTED = (
    "peak_end_weight",
    "loss_aversion",
    "half_life_days",
    "recovery_softening",
    "recovery_half_life_days",
    "paradox_bonus",
    "display_slope",
    "display_scale",
)
FOLDS = 5
RECENT_SHARE = 1.0 / 3.0
# Below this a fit follows noise: with about 40 answers, twelve subsets gave twelve
# different fits (docs/memory-score.md section 10).
MIN_ANSWERS = 200
MIN_CUSTOMERS = 50
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
class Sample:
    """One survey answer with the history before it (surveys themselves left out)."""

    customer_id: int
    history: tuple[Touch, ...]  # in order
    at: float
    rating: float
    has_failure: bool  # only then can the recovery parameters change its prediction


@dataclass(frozen=True)
class Fold:
    train: list[Sample]
    test: list[Sample]


@dataclass(frozen=True)
class Score:
    name: str
    in_sample: float  # rho over every answer (the fitted model: its fit on all of them)
    out_of_fold: float  # rho over the recent answers, each predicted by a fit that never saw it
    n: int  # recent answers predicted
    low: float = math.nan  # bootstrap 95% interval of the out-of-fold rho
    high: float = math.nan


@dataclass(frozen=True)
class ParameterFit:
    name: str
    in_force: float
    fitted: float  # fitted on every answer: what a proposal holds
    low: float  # the range the fold fits spread over
    high: float


@dataclass(frozen=True)
class Report:
    fitted: MemoryParameters
    parameters: list[ParameterFit]
    scores: list[Score]
    n_answers: int
    n_customers: int
    cutoff: float  # answers at or after it are the recent ones, predicted out of fold
    folds: int


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


T = TypeVar("T")
Pair = tuple[float, float]  # (prediction, rating)
FoldPair = tuple[int, float, float]  # (fold, prediction, rating)


def pooled_rho(groups: Sequence[Sequence[Pair]]) -> float:
    pairs = [pair for group in groups for pair in group]
    return spearman([x for x, _ in pairs], [y for _, y in pairs])


def fold_mean_rho(groups: Sequence[Sequence[FoldPair]]) -> float:
    """Spearman's rho within each fold, averaged with the folds' answers as weights. Each
    fold has its own fit, so predictions of different fits are never ranked against each
    other; every predictor is judged the same way."""
    by_fold: dict[int, list[Pair]] = {}
    for group in groups:
        for fold, x, y in group:
            by_fold.setdefault(fold, []).append((x, y))
    weighted = [(pooled_rho([pairs]), len(pairs)) for pairs in by_fold.values()]
    weighted = [(rho, n) for rho, n in weighted if not math.isnan(rho)]
    total = sum(n for _, n in weighted)
    return sum(rho * n for rho, n in weighted) / total if total else math.nan


def bootstrap_interval(
    groups: Sequence[Sequence[T]],
    statistic: Callable[[Sequence[Sequence[T]]], float] = pooled_rho,  # type: ignore[assignment]
    samples: int = BOOTSTRAP_SAMPLES,
) -> tuple[float, float]:
    """95% percentile interval of `statistic`, resampling customers (one group each: a
    customer's answers are not independent of each other). Seeded: the same data, the
    same interval."""
    rng = random.Random(7)  # noqa: S311 - statistics, not security
    groups = [g for g in groups if g]
    if len(groups) < 3:
        return math.nan, math.nan
    values = []
    for _ in range(samples):
        value = statistic([groups[rng.randrange(len(groups))] for _ in groups])
        if not math.isnan(value):
            values.append(value)
    if not values:
        return math.nan, math.nan
    values.sort()
    return values[int(0.025 * (len(values) - 1))], values[math.ceil(0.975 * (len(values) - 1))]


def samples_of(customers: Iterable[CustomerRatings]) -> list[Sample]:
    """Every answer that has a history before it, with that history."""
    samples = []
    for customer in customers:
        ordered = sorted((t for t in customer.touches if t.id not in customer.survey_ids), key=lambda t: t.order_key)
        for answer in customer.answers:
            history = tuple(t for t in ordered if t.at < answer.at)
            if history:
                failed = any(t.is_failure for t in history)
                samples.append(Sample(customer.customer_id, history, answer.at, answer.rating, failed))
    return samples


def too_little_data(samples: Sequence[Sample]) -> str | None:
    """Why these answers cannot support a fit, or None when they can."""
    customers = len({s.customer_id for s in samples})
    if len(samples) >= MIN_ANSWERS and customers >= MIN_CUSTOMERS:
        return None
    return (
        f"Only {len(samples)} survey answers (with touchpoints before them) from {customers} customers; "
        f"calibration needs at least {MIN_ANSWERS} answers from {MIN_CUSTOMERS} customers, below which a fit "
        "follows noise (docs/memory-score.md section 10)."
    )


def time_grouped_folds(
    samples: Sequence[Sample], folds: int = FOLDS, recent_share: float = RECENT_SHARE
) -> tuple[float, list[Fold]]:
    """The cut-off time, and the folds: each trains on the answers before the cut-off of
    every customer group but its own, and is tested on its own group's answers since."""
    if not samples:
        return math.inf, []
    times = sorted(s.at for s in samples)
    cutoff = times[min(len(times) - 1, int(len(times) * (1.0 - recent_share)))]

    def group(sample: Sample) -> int:
        # A stable hash of the id: the same customers share a fold on every run.
        return zlib.crc32(str(sample.customer_id).encode()) % folds

    return cutoff, [
        Fold(
            train=[s for s in samples if s.at < cutoff and group(s) != k],
            test=[s for s in samples if s.at >= cutoff and group(s) == k],
        )
        for k in range(folds)
    ]


def _best(
    candidates: Iterable[MemoryParameters], quality: Callable[[MemoryParameters], float], tick: Callable[[], None]
) -> MemoryParameters | None:
    """The candidate of highest quality; the first one on a tie; None if none is defined."""
    best, best_quality = None, -math.inf
    for params in candidates:
        value = quality(params)
        if not math.isnan(value) and value > best_quality:
            best, best_quality = params, value
        tick()
    return best


def _memory_grid(base: MemoryParameters) -> list[MemoryParameters]:
    return [base] + [
        replace(base, peak_end_weight=alpha, loss_aversion=lam, half_life_days=half_life)
        for alpha, lam, half_life in itertools.product(ALPHAS, LAMBDAS, HALF_LIVES)
    ]


def _recovery_grid(base: MemoryParameters) -> list[MemoryParameters]:
    return [base] + [
        replace(base, recovery_softening=softening, recovery_half_life_days=half_life, paradox_bonus=bonus)
        for softening, half_life, bonus in itertools.product(RECOVERY_SOFTENINGS, RECOVERY_HALF_LIVES, PARADOX_BONUSES)
    ]


# Each grid holds the parameters in force first, then its product.
STEPS_PER_FIT = (1 + len(ALPHAS) * len(LAMBDAS) * len(HALF_LIVES)) + (
    1 + len(RECOVERY_SOFTENINGS) * len(RECOVERY_HALF_LIVES) * len(PARADOX_BONUSES)
)


def fit_display(samples: Sequence[Sample], params: MemoryParameters) -> MemoryParameters:
    """The display slope and scale under which the score best reads as the chance of a
    good answer (Bernoulli log-likelihood over a grid; 50 = neutral stays fixed)."""
    values = [(memory_value(s.history, s.at, params), s.rating >= GOOD_ANSWER) for s in samples]
    if not values:
        return params

    def likelihood(trial: MemoryParameters) -> float:
        total = 0.0
        for value, good in values:
            p = min(max(score_for(value, trial) / 100.0, 1e-9), 1.0 - 1e-9)
            total += math.log(p if good else 1.0 - p)
        return total

    grid = [params] + [
        replace(params, display_slope=slope, display_scale=scale)
        for slope, scale in itertools.product(DISPLAY_SLOPES, DISPLAY_SCALES)
    ]
    return max(grid, key=likelihood)  # max keeps the first of equals: the mapping in force


def fit(samples: Sequence[Sample], base: MemoryParameters, tick: Callable[[], None] = lambda: None) -> MemoryParameters:
    """The three stages (module docstring) on `samples`; `base` where they decide nothing."""
    ratings = [s.rating for s in samples]

    def rho(params: MemoryParameters) -> float:
        return spearman([memory_value(s.history, s.at, params) for s in samples], ratings)

    shape = _best(_memory_grid(base), rho, tick) or base
    # Without a failure in its history an answer's prediction cannot depend on the recovery
    # parameters: compute it once, not once per candidate.
    unaffected = {i: memory_value(s.history, s.at, shape) for i, s in enumerate(samples) if not s.has_failure}

    def recovery_rho(params: MemoryParameters) -> float:
        values = [
            unaffected[i] if i in unaffected else memory_value(s.history, s.at, params) for i, s in enumerate(samples)
        ]
        return spearman(values, ratings)

    recovered = _best(_recovery_grid(shape), recovery_rho, tick) or shape
    return fit_display(samples, recovered)


def _out_of_fold(
    splits: Sequence[Fold], predictors: Sequence[Callable[[Sample], float | None]]
) -> dict[int, list[FoldPair]]:
    """(fold, prediction, rating) by customer, each fold's test answers predicted by its
    own predictor: the bootstrap resamples customers."""
    groups: dict[int, list[FoldPair]] = {}
    for fold, (split, predict) in enumerate(zip(splits, predictors, strict=True)):
        for sample in split.test:
            value = predict(sample)
            if value is not None:
                groups.setdefault(sample.customer_id, []).append((fold, value, sample.rating))
    return groups


def _score(
    name: str,
    every: Sequence[Sample],
    whole: Callable[[Sample], float | None],
    splits: Sequence[Fold],
    by_fold: Sequence[Callable[[Sample], float | None]],
) -> Score:
    """In-sample rho of `whole` over every answer; out-of-fold rho of `by_fold` (one
    predictor per fold) over the recent answers, with its interval."""
    in_sample = pooled_rho([[(value, s.rating) for s in every if (value := whole(s)) is not None]])
    oof = list(_out_of_fold(splits, by_fold).values())
    low, high = bootstrap_interval(oof, fold_mean_rho)
    return Score(name, in_sample, fold_mean_rho(oof), sum(len(g) for g in oof), low, high)


def _fixed(predict: Predictor) -> Callable[[Sample], float | None]:
    return lambda sample: predict(list(sample.history), sample.at)


def calibrate(
    samples: Sequence[Sample],
    base: MemoryParameters,
    *,
    folds: int = FOLDS,
    recent_share: float = RECENT_SHARE,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Fit on every answer (`samples_of` the customers), validate by grouped, time-based
    folds, compare with baselines."""
    cutoff, splits = time_grouped_folds(samples, folds, recent_share)
    total, done = STEPS_PER_FIT * (len(splits) + 1), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    fold_fits = [fit(split.train, base, tick) for split in splits]
    fitted = fit(samples, base, tick)

    def scored_by(params: MemoryParameters) -> Callable[[Sample], float]:
        return lambda sample: memory_value(sample.history, sample.at, params)

    scores = [_score("memory score (fitted)", samples, scored_by(fitted), splits, [scored_by(p) for p in fold_fits])]
    predictors: list[tuple[str, Predictor]] = [
        ("memory score (in force)", memory_predictor(base)),
        ("experience average (lived)", experience_average(base)),
        ("recency-weighted average", recency_weighted_average),
        ("plain average of valence", average_valence),
        ("last interaction only", last_interaction),
        ("points sum", points_sum),
    ]
    for name, predict in predictors:
        fixed = _fixed(predict)
        scores.append(_score(name, samples, fixed, splits, [fixed] * len(splits)))

    parameters = []
    for name in FITTED:
        spread = [getattr(params, name) for params in fold_fits] or [getattr(fitted, name)]
        parameters.append(ParameterFit(name, getattr(base, name), getattr(fitted, name), min(spread), max(spread)))
    return Report(
        fitted=fitted,
        parameters=parameters,
        scores=scores,
        n_answers=len(samples),
        n_customers=len({s.customer_id for s in samples}),
        cutoff=cutoff,
        folds=len(splits),
    )


def verdict(scores: Sequence[Score]) -> str:
    """Say plainly whether the fit predicts better than the model in force and than the
    strongest baseline, beyond the intervals."""
    by_name = {s.name: s for s in scores}
    fitted, in_force = by_name["memory score (fitted)"], by_name["memory score (in force)"]
    baselines = [s for s in scores if not s.name.startswith("memory score")]
    best = max(baselines, key=lambda s: s.out_of_fold)
    if fitted.low > best.high:
        against_baseline = (
            f"The fitted memory score predicts these ratings better than the best baseline ({best.name})."
        )
    elif fitted.out_of_fold > best.out_of_fold:
        against_baseline = (
            f"The fitted memory score is ahead of the best baseline ({best.name}), but within the intervals: "
            "on this data it has not shown that it predicts better."
        )
    else:
        against_baseline = f"The fitted memory score does not beat the best baseline here ({best.name})."
    if fitted.low > in_force.high:
        against_force = "It predicts better than the model in force, beyond the intervals."
    elif fitted.out_of_fold > in_force.out_of_fold:
        against_force = "It is ahead of the model in force only within the intervals."
    else:
        against_force = "It does not predict better than the model in force."
    return f"{against_baseline} {against_force}"
