"""What would change if the model's numbers changed: a what-if on real histories. No Django.

Every customer (or a random sample of them, when there are many) is scored as of the same
moment under the version in force and under a draft. The result: the score distribution
and the band shares before and after (with a 95% interval when sampled), how many
customers change band, and the customers who move most, each with why: how far each
changed parameter alone would move them (the others held at today's values), and what
their history holds that the parameter acts on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from memory.engine import MemoryParameters, Touch, band_for, recompute

BANDS = ("at_risk", "neutral", "good")
HISTOGRAM_BINS = 10
TOP_MOVERS = 15
Z_95 = 1.959964


@dataclass(frozen=True)
class Share:
    """A share of customers, with its 95% interval (Wilson's, with the finite-population
    correction; exact, low == high, when every customer was scored)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Cause:
    parameter: str
    before: float
    after: float
    points: float  # how far this change alone moves the customer's score


@dataclass(frozen=True)
class Mover:
    customer_id: int
    score_before: float
    score_after: float
    band_before: str
    band_after: str
    causes: list[Cause]
    history: str  # what the history holds, in words


@dataclass
class WhatIf:
    scored: int
    population: int
    changed_parameters: list[str]
    histogram_before: list[int] = field(default_factory=list)
    histogram_after: list[int] = field(default_factory=list)
    bands_before: dict[str, Share] = field(default_factory=dict)
    bands_after: dict[str, Share] = field(default_factory=dict)
    changed_band: Share = Share(0.0, 0.0, 0.0)
    mean_change: float = 0.0
    mean_absolute_change: float = 0.0
    movers: list[Mover] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.scored < self.population


def share(count: int, n: int, population: int) -> Share:
    if n == 0:
        return Share(math.nan, math.nan, math.nan)
    p = count / n
    if n >= population:
        return Share(p, p, p)
    fpc = math.sqrt((population - n) / (population - 1)) if population > 1 else 0.0
    denominator = 1 + Z_95**2 / n
    centre = (p + Z_95**2 / (2 * n)) / denominator
    half = Z_95 * fpc * math.sqrt(p * (1 - p) / n + Z_95**2 / (4 * n * n)) / denominator
    return Share(p, max(0.0, centre - half), min(1.0, centre + half))


def changed_parameters(current: MemoryParameters, draft: MemoryParameters) -> list[str]:
    return [name for name, value in draft.as_dict().items() if getattr(current, name) != value]


def _histogram(scores: Sequence[float]) -> list[int]:
    bins = [0] * HISTOGRAM_BINS
    for score in scores:
        bins[min(HISTOGRAM_BINS - 1, int(score // (100 / HISTOGRAM_BINS)))] += 1
    return bins


def score_as_of(touches: Sequence[Touch], at: float, params: MemoryParameters) -> float:
    return recompute(touches, params).state.read(at, params).score


def describe_history(touches: Sequence[Touch], at: float) -> str:
    """The facts of a history that the model's numbers act on, in a few words."""
    if not touches:
        return "no touchpoints"
    failures = [t for t in touches if t.is_failure]
    recovered = {t.resolves_id for t in touches if t.resolves_id is not None and t.raw_impact > 0}
    journeys = len({t.journey_id for t in touches})
    days = int((at - touches[-1].at) // 86_400)
    parts = [f"{len(touches)} touchpoint{'s' * (len(touches) != 1)} in {journeys} journey{'s' * (journeys != 1)}"]
    if failures:
        recovered_failures = sum(1 for t in failures if t.id in recovered)
        parts.append(f"{len(failures)} bad, {recovered_failures} of them recovered")
    best = max(touches, key=lambda t: t.raw_impact)
    if best.raw_impact > 0:
        parts.append("a very good moment" if best.valence == 2 else "good moments")
    parts.append(f"last touch {days} day{'s' * (days != 1)} ago")
    return "; ".join(parts)


def _causes(
    touches: Sequence[Touch], at: float, current: MemoryParameters, draft: MemoryParameters, names: list[str]
) -> list[Cause]:
    before = score_as_of(touches, at, current)
    causes = []
    for name in names:
        alone = replace(current, **{name: getattr(draft, name)})
        causes.append(
            Cause(name, getattr(current, name), getattr(draft, name), score_as_of(touches, at, alone) - before)
        )
    return sorted(causes, key=lambda c: -abs(c.points))


def what_if(
    histories: Mapping[int, Sequence[Touch]],
    *,
    at: float,
    current: MemoryParameters,
    draft: MemoryParameters,
    population: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> WhatIf:
    """Score `histories` (customer id -> touches in time order) as of `at` under both
    versions. `population`: how many customers the histories were sampled from."""
    names = changed_parameters(current, draft)
    population = max(population or len(histories), len(histories))
    result = WhatIf(scored=len(histories), population=population, changed_parameters=names)
    before: dict[int, float] = {}
    after: dict[int, float] = {}
    for done, (customer_id, touches) in enumerate(histories.items(), start=1):
        before[customer_id] = score_as_of(touches, at, current)
        after[customer_id] = before[customer_id] if not names else score_as_of(touches, at, draft)
        if progress and (done % 500 == 0 or done == len(histories)):
            progress(done, len(histories))
    n = len(histories)
    result.histogram_before = _histogram(list(before.values()))
    result.histogram_after = _histogram(list(after.values()))
    bands_before = {cid: band_for(score, current) for cid, score in before.items()}
    bands_after = {cid: band_for(score, draft) for cid, score in after.items()}
    for band in BANDS:
        result.bands_before[band] = share(sum(b == band for b in bands_before.values()), n, population)
        result.bands_after[band] = share(sum(b == band for b in bands_after.values()), n, population)
    switched = [cid for cid in before if bands_before[cid] != bands_after[cid]]
    result.changed_band = share(len(switched), n, population)
    if n:
        result.mean_change = sum(after[c] - before[c] for c in before) / n
        result.mean_absolute_change = sum(abs(after[c] - before[c]) for c in before) / n
    # The customers who move most, those who change band first: they are who a manager
    # will ask about.
    ranked = sorted(before, key=lambda c: (bands_before[c] == bands_after[c], -abs(after[c] - before[c]), c))
    for customer_id in ranked[:TOP_MOVERS]:
        if after[customer_id] == before[customer_id]:
            break
        touches = histories[customer_id]
        result.movers.append(
            Mover(
                customer_id=customer_id,
                score_before=before[customer_id],
                score_after=after[customer_id],
                band_before=bands_before[customer_id],
                band_after=bands_after[customer_id],
                causes=_causes(touches, at, current, draft, names),
                history=describe_history(touches, at),
            )
        )
    return result
