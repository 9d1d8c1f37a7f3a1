"""The memory model: what a customer will remember of their touchpoints with us.

Pure Python, no Django: it can be read, tested and reasoned about on its own.
docs/memory-score.md explains the model in words, with its sources and worked examples.

Vocabulary
- touch: one interaction as the model sees it (time, journey, stage, valence, intensity).
- felt impact e: how the touch is remembered on its own; x = (valence/2)(intensity/5) in
  [-1, 1], negative x multiplied by the loss-aversion factor lambda. A recovered complaint
  is softened, never below what was felt (|x|); a first, moderate failure recovered
  excellently and quickly gives its recovery a bonus (the recovery paradox).
- moment: a felt impact with its own clock: it weighs e * 2^(-(t - t_touch)/h) at time t.
  A valence-0 touch felt like nothing and makes no moment: it is neither a peak, nor an
  end, nor part of a mean (neutral is neutral; it still counts as contact and in the
  experience average).
- journey value J(t): one journey remembered by its peak and its end, blended with the mean,
  and worsened by repeated failures (double deviation), every term on its moments' clocks:
  J = alpha * (peak + end) / 2 + (1 - alpha) * mean - rho * min(others, cap * worst),
  "others" the faded strength of every negative moment but the worst.
- memory value M(t) = sum_j J_j(t): traces add up (more good journeys, a stronger good
  memory; two bad days are worse than one) and each fades on its own clock, so a new touch
  renews only the journey it belongs to and, with no news, M halves every half-life.
- score = 100 * logistic(slope * asinh(M / scale)): 50 is neutral; asinh makes the tails
  logarithmic, so one bad day, two and ten stay distinguishable instead of all reading 1.
- lived score: the same with each journey's mean in place of J (the experience average).

The running state (MemoryState) folds touches in time order in O(1) each; a full
recomputation (`recompute`) reaches the same state from the whole history. A touch that
arrives out of order, reopens an earlier journey, or resolves a complaint changes the past,
so `MemoryState.can_append` refuses it and the caller recomputes that customer.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SECONDS_PER_DAY = 86_400.0
STATE_FORMAT = 2


@dataclass(frozen=True)
class MemoryParameters:
    """Every tunable number of the model; docs/memory-score.md cites the source of each."""

    loss_aversion: float = 2.25
    peak_end_weight: float = 0.5
    half_life_days: float = 90.0
    repeat_failure_weight: float = 0.5
    repeat_failure_cap: float = 2.0
    recovery_softening: float = 0.5
    recovery_half_life_days: float = 30.0
    first_contact_quality: float = 0.75
    paradox_window_days: float = 365.0
    paradox_max_severity: float = 0.5
    paradox_min_recovery: float = 0.6
    paradox_max_delay_days: float = 7.0
    paradox_bonus: float = 0.2
    display_scale: float = 1.0
    display_slope: float = 1.25
    at_risk_below: float = 35.0
    good_above: float = 65.0
    top_journeys: int = 5

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> MemoryParameters:
        known: dict[str, Any] = {
            name: float(value) for name, value in values.items() if name in cls.__dataclass_fields__
        }
        if "top_journeys" in known:
            known["top_journeys"] = int(known["top_journeys"])
        return cls(**known)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @property
    def half_life_seconds(self) -> float:
        return self.half_life_days * SECONDS_PER_DAY

    def decay(self, seconds: float) -> float:
        """Weight a memory keeps after `seconds`: 2^(-seconds / half-life)."""
        return math.pow(2.0, -seconds / self.half_life_seconds)


# What each parameter means and the range it may take: the model's editor checks a version
# against these (docs/memory-score.md section 9 gives the source of every default).
PARAMETER_LIMITS: dict[str, tuple[float, float, str]] = {
    "loss_aversion": (1.0, 5.0, "Loss aversion (λ): how much more a bad moment weighs than a good one"),
    "peak_end_weight": (0.0, 1.0, "Peak-end weight (α): peak and end against the journey's mean"),
    "half_life_days": (7.0, 730.0, "Half-life: days after which a memory weighs half"),
    "repeat_failure_weight": (0.0, 2.0, "Repeated failures (ρ): weight of every bad moment but the worst"),
    "repeat_failure_cap": (0.0, 10.0, "Repeated-failure cap: at most this many times the worst"),
    "recovery_softening": (0.0, 1.0, "Recovery softening: the share of a complaint's sting a perfect recovery removes"),
    "recovery_half_life_days": (1.0, 365.0, "Recovery half-life: days after which a recovery softens half as much"),
    "first_contact_quality": (0.0, 1.0, "First-contact resolution: its quality as a recovery"),
    "paradox_window_days": (
        0.0,
        1825.0,
        "Paradox window: days after a first failure in which the recovery paradox can happen",
    ),
    "paradox_max_severity": (0.0, 1.0, "Paradox severity: the most severe failure the recovery paradox applies to"),
    "paradox_min_recovery": (0.0, 1.0, "Paradox recovery: the least good recovery that earns the paradox"),
    "paradox_max_delay_days": (0.0, 90.0, "Paradox delay: the slowest recovery that earns the paradox, in days"),
    "paradox_bonus": (0.0, 1.0, "Paradox bonus (β): what an excellent, quick recovery adds"),
    "display_scale": (0.05, 20.0, "Display scale: where the score turns from linear to logarithmic"),
    "display_slope": (0.1, 10.0, "Display slope: how steeply the score leaves 50"),
    "at_risk_below": (1.0, 99.0, "At-risk band: scores below this"),
    "good_above": (1.0, 99.0, "Good band: scores above this"),
    "top_journeys": (1.0, 50.0, "Journeys kept: how many whole journeys the running state keeps"),
}


def parameter_label(name: str) -> str:
    """A parameter's short name for tables and messages: its label before the colon."""
    return PARAMETER_LIMITS[name][2].split(":")[0]


def parameter_problems(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a set of parameters, by name; empty when they make a model."""
    problems: dict[str, list[str]] = {}
    for name, (low, high, _) in PARAMETER_LIMITS.items():
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems[name] = ["Give a number."]
        elif not low <= value <= high:
            problems[name] = [f"Give a number from {low:g} to {high:g}."]
        elif name == "top_journeys" and value != int(value):
            problems[name] = ["Give a whole number."]
    unknown = sorted(set(values) - set(PARAMETER_LIMITS))
    if unknown:
        problems["parameters"] = [f"Unknown parameter: {', '.join(unknown)}."]
    low_band, high_band = values.get("at_risk_below"), values.get("good_above")
    if not problems.get("at_risk_below") and not problems.get("good_above") and low_band >= high_band:  # type: ignore[operator]
        problems["good_above"] = ["The good band must start above the at-risk band."]
    return problems


@dataclass(frozen=True)
class Touch:
    """One interaction, reduced to what memory needs. `at` is UTC epoch seconds."""

    id: int
    at: float
    journey_id: int
    stage: str
    channel: str
    valence: int
    intensity: int
    resolves_id: int | None = None
    resolved_on_first_contact: bool = False

    @property
    def order_key(self) -> tuple[float, int]:
        return (self.at, self.id)

    @property
    def raw_impact(self) -> float:
        return (self.valence / 2.0) * (self.intensity / 5.0)

    @property
    def is_failure(self) -> bool:
        # A failure is something that felt bad; a "complaint" logged as neutral is not one.
        return self.valence < 0


# -- the display --------------------------------------------------------------------------
def band_for(score: float, params: MemoryParameters) -> str:
    if score < params.at_risk_below:
        return "at_risk"
    if score > params.good_above:
        return "good"
    return "neutral"


def score_for(value: float, params: MemoryParameters) -> float:
    """0..100: the chance of a good outcome, logistic in the log-like asinh of M."""
    z = params.display_slope * math.asinh(value / params.display_scale)
    return 100.0 / (1.0 + math.exp(-z))


def felt(raw: float, params: MemoryParameters) -> float:
    return raw if raw >= 0.0 else params.loss_aversion * raw


def softened(raw: float, quality: float, params: MemoryParameters) -> float:
    """A complaint's felt impact after a recovery of `quality`: part of the sting goes,
    never below what was felt (|x|): recovery takes away the loss-aversion surcharge at
    most, not the experience itself."""
    return min(felt(raw, params) * (1.0 - params.recovery_softening * quality), raw)


def impact_on_arrival(touch: Touch, params: MemoryParameters) -> float:
    """Felt impact of a touch that resolves nothing, with what is known when it arrives.

    A complaint settled on first contact (seeds/003, "empower personal action") is
    softened as if a good recovery had followed at once.
    """
    raw = touch.raw_impact
    if raw < 0.0 and touch.resolved_on_first_contact:
        return softened(raw, params.first_contact_quality, params)
    return felt(raw, params)


@dataclass(frozen=True)
class Impacts:
    """Felt impacts of a history, recoveries applied: `value` is what the moment is
    remembered as; `bonus` the part of it that is the recovery paradox; `rank` how strongly
    it competes for its journey's peak (strength_rank of the value without the bonus; a
    recovered complaint competes with the strength it had before any recovery): neither
    softening nor the bonus ever hands the peak to a recovery."""

    value: dict[int, float]
    bonus: dict[int, float]
    rank: dict[int, float]

    @property
    def paradox_recoveries(self) -> set[int]:
        return set(self.bonus)


def felt_impacts(touches: Sequence[Touch], params: MemoryParameters) -> Impacts:
    """Felt impact of every touch of a history given in time order, recoveries applied.

    A recovery (a positive touch that `resolves` an earlier negative one) softens the
    complaint in proportion to how good, and how quick, the best recovery was. The first
    excellent and quick recovery earns the recovery-paradox bonus, only after the customer's
    first failure in the window and only if that failure was moderate (McCollough & Bharadwaj 1992;
    Maxham & Netemeyer 2002; Smith, Bolton & Wagner 1999 on speed).
    """
    values = {t.id: impact_on_arrival(t, params) for t in touches}
    by_id = {t.id: t for t in touches}
    best_quality: dict[int, float] = {}
    rank_floor: dict[int, float] = {}
    # The first recovery of each complaint that was excellent and quick: the one that can
    # earn the paradox. A weaker answer linked before it does not take the bonus away; an
    # earlier excellent one does (the one case where linking a recovery can lower the
    # score, docs/memory-score.md section 8).
    paradox_candidate: dict[int, Touch] = {}
    for touch in touches:
        complaint = by_id.get(touch.resolves_id) if touch.resolves_id is not None else None
        if complaint is None or complaint.order_key >= touch.order_key:
            continue
        if touch.raw_impact <= 0.0 or complaint.raw_impact >= 0.0:
            continue
        # A late recovery softens less: timeliness is part of a good recovery.
        delay = touch.at - complaint.at
        quality = touch.raw_impact * math.pow(2.0, -delay / (params.recovery_half_life_days * SECONDS_PER_DAY))
        best_quality[complaint.id] = max(best_quality.get(complaint.id, 0.0), quality)
        excellent = touch.raw_impact >= params.paradox_min_recovery
        quick = delay <= params.paradox_max_delay_days * SECONDS_PER_DAY
        if excellent and quick:
            paradox_candidate.setdefault(complaint.id, touch)

    failures = sorted(t.order_key for t in touches if t.is_failure)
    window = params.paradox_window_days * SECONDS_PER_DAY
    bonus: dict[int, float] = {}
    for complaint_id, quality in best_quality.items():
        complaint = by_id[complaint_id]
        if complaint.resolved_on_first_contact:
            quality = max(quality, params.first_contact_quality)
        values[complaint_id] = softened(complaint.raw_impact, quality, params)
        # Recovery changes how the complaint is remembered, not how strongly it stands
        # out: it competes for the peak with the strength it had before any recovery.
        rank_floor[complaint_id] = strength_rank(impact_on_arrival(complaint, params), complaint.at, params)

        recovery = paradox_candidate.get(complaint_id)
        moderate = -complaint.raw_impact <= params.paradox_max_severity
        # Failures strictly before this complaint and inside the window.
        earlier = bisect.bisect_left(failures, complaint.order_key) - bisect.bisect_left(
            failures, (complaint.at - window, -math.inf)
        )
        if recovery is not None and moderate and earlier == 0 and params.paradox_bonus > 0.0:
            bonus[recovery.id] = params.paradox_bonus
    ranks = {t.id: strength_rank(values[t.id], t.at, params) for t in touches}
    for complaint_id, floor in rank_floor.items():
        ranks[complaint_id] = max(ranks[complaint_id], floor)
    for recovery_id, extra in bonus.items():
        values[recovery_id] += extra
    return Impacts(values, bonus, ranks)


# -- moments and journeys -----------------------------------------------------------------
def strength_rank(value_without_bonus: float, at: float, params: MemoryParameters) -> float:
    """How strongly a moment competes for its journey's peak, as a time-free key: the log of
    its faded magnitude brought back to a common epoch. Every moment fades by the same
    factor, so comparing these keys compares faded strengths at any time, and the running
    state and a recomputation compare exactly the same numbers."""
    if value_without_bonus == 0.0:
        return -math.inf
    return math.log(abs(value_without_bonus)) + at * math.log(2.0) / params.half_life_seconds


@dataclass
class Moment:
    """A remembered moment: `value` is its felt impact faded to the holder's reference time;
    `rank` decides which moment is a journey's peak (see strength_rank: the recovery-paradox
    bonus does not count, so a recovery never becomes the peak by its bonus)."""

    touch_id: int
    at: float
    value: float
    rank: float

    def scaled(self, factor: float) -> Moment:
        return Moment(self.touch_id, self.at, self.value * factor, self.rank)

    def to_dict(self) -> dict[str, Any]:
        return {"touch_id": self.touch_id, "at": self.at, "value": self.value, "rank": self.rank}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Moment:
        return cls(data["touch_id"], data["at"], data["value"], data["rank"])


# to_dict methods below are written out: dataclasses.asdict deep-copies every value and
# was a third of a full recompute's time (profiled at 5M touchpoints).
def _moment_or_none(moment: Moment | None) -> dict[str, Any] | None:
    return moment.to_dict() if moment is not None else None


@dataclass
class Episode:
    """Peak, end, mean and failures of the moments of one journey (or one stage), every
    value faded to a common reference time. Fed in time order, O(1) a moment; `rescale`
    moves the reference time (every term is linear in the moments, so one factor does)."""

    count: int = 0
    total: float = 0.0
    peak: Moment | None = None
    end: Moment | None = None
    negative_total: float = 0.0
    worst_negative: float = 0.0

    def add(self, moment: Moment) -> None:
        self.count += 1
        self.total += moment.value
        # Moments are compared as they are now (faded): a later one wins by being stronger
        # now; on an exact tie the earlier one stays the peak.
        if self.peak is None or moment.rank > self.peak.rank:
            self.peak = moment
        self.end = moment
        if moment.value < 0.0:
            self.negative_total -= moment.value
            self.worst_negative = max(self.worst_negative, -moment.value)

    def rescale(self, factor: float) -> None:
        self.total *= factor
        self.negative_total *= factor
        self.worst_negative *= factor
        self.peak = self.peak.scaled(factor) if self.peak else None
        self.end = self.end.scaled(factor) if self.end else None

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def repeat_penalty(self, params: MemoryParameters) -> float:
        """Double deviation: every failure after the worst one adds to the memory of the
        journey, up to `repeat_failure_cap` times the worst (bounded)."""
        others = self.negative_total - self.worst_negative
        return params.repeat_failure_weight * min(others, params.repeat_failure_cap * self.worst_negative)

    def value(self, params: MemoryParameters) -> float:
        if self.peak is None or self.end is None:
            return 0.0
        alpha = params.peak_end_weight
        peak = self.peak.value
        if peak < 0.0:
            # A bad peak is remembered as bad as the worst moment of the journey. The two
            # differ only when the peak is a recovered complaint (it keeps its felt strength
            # but is softened): softening never makes another, worse moment forgotten.
            peak = -max(-peak, self.worst_negative)
        blend = alpha * (peak + self.end.value) / 2.0 + (1.0 - alpha) * self.mean
        return blend - self.repeat_penalty(params)

    def summary(self, journey_id: int, reference_at: float, params: MemoryParameters) -> JourneyMemory:
        return JourneyMemory(
            journey_id=journey_id,
            value=self.value(params),
            reference_at=reference_at,
            peak=self.peak,
            end=self.end,
            count=self.count,
            mean=self.mean,
            repeat_penalty=self.repeat_penalty(params),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "total": self.total,
            "peak": _moment_or_none(self.peak),
            "end": _moment_or_none(self.end),
            "negative_total": self.negative_total,
            "worst_negative": self.worst_negative,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Episode:
        return cls(
            count=data["count"],
            total=data["total"],
            peak=Moment.from_dict(data["peak"]) if data.get("peak") else None,
            end=Moment.from_dict(data["end"]) if data.get("end") else None,
            negative_total=data["negative_total"],
            worst_negative=data["worst_negative"],
        )


@dataclass
class JourneyMemory:
    """What the customer keeps of one journey, its values as of `reference_at`."""

    journey_id: int
    value: float
    reference_at: float
    peak: Moment | None
    end: Moment | None
    count: int
    mean: float
    repeat_penalty: float

    def salience(self, params: MemoryParameters) -> float:
        """How vivid the journey's strongest moment was when it happened (unfaded)."""
        if self.peak is None:
            return 0.0
        return abs(self.peak.value) / params.decay(self.reference_at - self.peak.at)

    def rank_key(self, params: MemoryParameters) -> tuple[float, int]:
        # Every journey fades by the same factor, so this time-free key orders them for all
        # t: the top list never needs re-sorting as time passes.
        if self.value == 0.0:
            return (-math.inf, self.journey_id)
        # Rounded: the running state and a recomputation fade to different reference times,
        # and equally strong journeys must tie (then the journey id decides) in both.
        key = math.log(abs(self.value)) + self.reference_at * math.log(2.0) / params.half_life_seconds
        return (round(key, 9), self.journey_id)

    def value_at(self, when: float, params: MemoryParameters) -> float:
        return self.value * params.decay(when - self.reference_at)

    def value_at_end(self, params: MemoryParameters) -> float:
        """How the journey was remembered when its last moment happened (time-free)."""
        return self.value_at(self.end.at, params) if self.end else self.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "value": self.value,
            "reference_at": self.reference_at,
            "peak": _moment_or_none(self.peak),
            "end": _moment_or_none(self.end),
            "count": self.count,
            "mean": self.mean,
            "repeat_penalty": self.repeat_penalty,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JourneyMemory:
        return cls(
            journey_id=data["journey_id"],
            value=data["value"],
            reference_at=data["reference_at"],
            peak=Moment.from_dict(data["peak"]) if data.get("peak") else None,
            end=Moment.from_dict(data["end"]) if data.get("end") else None,
            count=data["count"],
            mean=data["mean"],
            repeat_penalty=data["repeat_penalty"],
        )


@dataclass
class Reading:
    """The memory as of one moment: score, band and everything needed to explain it.

    `lived_score` is the experience average: the same traces with every moment of a
    journey counting the same (each journey's mean: no peak, no end, no repeated-failure
    term), shown on the same scale. It has the same loss aversion, recovery and fading, so
    where it differs from `score`, peaks and endings made the difference.
    """

    as_of: float
    score: float
    band: str
    value: float
    decay: float
    touch_count: int
    lived_score: float | None
    active: JourneyMemory | None
    top_journeys: list[JourneyMemory]
    stages: dict[str, dict[str, float]]

    @property
    def peak(self) -> Moment | None:
        """The single moment the memory is most made of: the peak of the top journey."""
        return self.top_journeys[0].peak if self.top_journeys else None

    @property
    def end(self) -> Moment | None:
        return self.active.end if self.active else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "score": self.score,
            "band": self.band,
            "value": self.value,
            "decay": self.decay,
            "touch_count": self.touch_count,
            "lived_score": self.lived_score,
            "active": self.active.to_dict() if self.active else None,
            "top_journeys": [j.to_dict() for j in self.top_journeys],
            "stages": {stage: dict(values) for stage, values in self.stages.items()},
            "peak": _moment_or_none(self.peak),
            "end": _moment_or_none(self.end),
        }


def _moment(touch: Touch, value: float, factor: float, rank: float) -> Moment:
    return Moment(touch.id, touch.at, value * factor, rank)


@dataclass
class MemoryState:
    """Running memory of one customer, updated in O(1) per touch that arrives in order.

    Every value is faded to `last_at` (the latest touch): `closed_value` is the sum of the
    values of every journey but the active one; `closed_lived` the same sum of the closed
    journeys' means (what the customer lived through: see Reading.lived_score).
    """

    touch_count: int = 0
    last_at: float | None = None
    last_id: int | None = None
    max_journey_id: int = 0
    active_journey_id: int | None = None
    active: Episode | None = None
    closed_value: float = 0.0
    closed_count: int = 0
    top_closed: list[JourneyMemory] = field(default_factory=list)
    stages: dict[str, Episode] = field(default_factory=dict)
    closed_lived: float = 0.0

    # -- arrival ------------------------------------------------------------------------
    def can_append(self, touch: Touch) -> bool:
        """Whether `touch` can be folded in without rewriting what is already remembered."""
        if touch.resolves_id is not None:
            return False
        if self.last_at is not None and self.last_id is not None and touch.order_key <= (self.last_at, self.last_id):
            return False
        return touch.journey_id == self.active_journey_id or touch.journey_id > self.max_journey_id

    def append(self, touch: Touch, params: MemoryParameters) -> None:
        """Fold one touch in; refuses one that would rewrite what is already remembered."""
        if not self.can_append(touch):
            raise ValueError(f"touch {touch.id} rewrites history; recompute the customer instead")
        if touch.journey_id != self.active_journey_id:
            self._close_active(params)
        if self.last_at is not None:
            elapsed = touch.at - self.last_at
            factor = params.decay(elapsed)
            self.closed_value *= factor
            if self.active is not None:
                self.active.rescale(factor)
            self.closed_lived *= factor
        if self.active is None:
            self.active_journey_id, self.active = touch.journey_id, Episode()
        assert self.active is not None
        if touch.valence != 0:
            impact = impact_on_arrival(touch, params)
            rank = strength_rank(impact, touch.at, params)
            self.active.add(_moment(touch, impact, 1.0, rank))
            self.stages.setdefault(touch.stage, Episode()).add(_moment(touch, impact, 1.0, rank))
        self.touch_count += 1
        self.last_at, self.last_id = touch.at, touch.id
        self.max_journey_id = max(self.max_journey_id, touch.journey_id)

    def _close_active(self, params: MemoryParameters) -> None:
        if self.active is None or self.active_journey_id is None or self.last_at is None:
            return
        summary = self.active.summary(self.active_journey_id, self.last_at, params)
        self.closed_value += summary.value
        self.closed_lived += summary.mean
        self.closed_count += 1
        self.top_closed.append(summary)
        self.top_closed.sort(key=lambda j: j.rank_key(params), reverse=True)
        del self.top_closed[params.top_journeys :]
        self.active_journey_id, self.active = None, None

    # -- reading ------------------------------------------------------------------------
    def value_at(self, as_of: float, params: MemoryParameters) -> float:
        if self.last_at is None:
            return 0.0
        active = self.active.value(params) if self.active else 0.0
        return (self.closed_value + active) * params.decay(max(0.0, as_of - self.last_at))

    def read(self, as_of: float, params: MemoryParameters) -> Reading:
        active = None
        if self.active is not None and self.active_journey_id is not None and self.last_at is not None:
            active = self.active.summary(self.active_journey_id, self.last_at, params)
        elapsed = max(0.0, as_of - self.last_at) if self.last_at is not None else 0.0
        decay = params.decay(elapsed)
        value = self.value_at(as_of, params)
        score = score_for(value, params)
        top = list(self.top_closed)
        if active is not None and active.count:
            top.append(active)
            top.sort(key=lambda j: j.rank_key(params), reverse=True)
            del top[params.top_journeys :]
        stages = {
            stage: {"value": acc.value(params), "count": float(acc.count), "mean": acc.mean}
            for stage, acc in sorted(self.stages.items())
        }
        lived = None
        if self.last_at is not None:
            active_mean = self.active.mean if self.active else 0.0
            lived = score_for(decay * (self.closed_lived + active_mean), params)
        return Reading(
            as_of=as_of,
            score=score,
            band=band_for(score, params),
            value=value,
            decay=decay,
            touch_count=self.touch_count,
            lived_score=lived,
            active=active,
            top_journeys=top,
            stages=stages,
        )

    def journey_values(self, params: MemoryParameters) -> dict[int, JourneyMemory]:
        """What is known here of individual journeys: the active one (for O(1) writes)."""
        if self.active is None or self.active_journey_id is None or self.last_at is None:
            return {}
        return {self.active_journey_id: self.active.summary(self.active_journey_id, self.last_at, params)}

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "touch_count": self.touch_count,
            "last_at": self.last_at,
            "last_id": self.last_id,
            "max_journey_id": self.max_journey_id,
            "active_journey_id": self.active_journey_id,
            "active": self.active.to_dict() if self.active else None,
            "closed_value": self.closed_value,
            "closed_count": self.closed_count,
            "top_closed": [j.to_dict() for j in self.top_closed],
            "stages": {stage: acc.to_dict() for stage, acc in self.stages.items()},
            "closed_lived": self.closed_lived,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> MemoryState:
        """The stored state, or an empty one when it was written by another format (the
        caller then sees a state that cannot append and recomputes)."""
        if not data or data.get("format") != STATE_FORMAT:
            return cls()
        active = data.get("active")
        return cls(
            touch_count=data["touch_count"],
            last_at=data["last_at"],
            last_id=data["last_id"],
            max_journey_id=data["max_journey_id"],
            active_journey_id=data["active_journey_id"],
            active=Episode.from_dict(active) if active else None,
            closed_value=data["closed_value"],
            closed_count=data["closed_count"],
            top_closed=[JourneyMemory.from_dict(j) for j in data["top_closed"]],
            stages={stage: Episode.from_dict(acc) for stage, acc in data["stages"].items()},
            closed_lived=data["closed_lived"],
        )


# -- from a whole history -----------------------------------------------------------------
@dataclass
class Recomputation:
    state: MemoryState
    journeys: dict[int, JourneyMemory]
    impacts: Impacts

    @property
    def paradox_recoveries(self) -> set[int]:
        return self.impacts.paradox_recoveries


def _episodes(
    ordered: Sequence[Touch], impacts: Impacts, reference_at: float, params: MemoryParameters
) -> dict[int, Episode]:
    """Every journey's moments faded to `reference_at`; a journey of neutral touches only
    is present and empty."""
    episodes: dict[int, Episode] = {}
    for touch in ordered:
        episode = episodes.setdefault(touch.journey_id, Episode())
        if touch.valence != 0:
            factor = params.decay(reference_at - touch.at)
            episode.add(_moment(touch, impacts.value[touch.id], factor, impacts.rank[touch.id]))
    return episodes


def recompute(touches: Iterable[Touch], params: MemoryParameters) -> Recomputation:
    """The memory of a whole history, computed from scratch.

    Journeys are grouped explicitly, so a history in which journeys interleave is
    remembered correctly; every moment's weight is taken directly from its own time.
    """
    ordered = sorted(touches, key=lambda t: t.order_key)
    impacts = felt_impacts(ordered, params)
    state = MemoryState()
    if not ordered:
        return Recomputation(state, {}, impacts)

    last = ordered[-1]
    episodes = _episodes(ordered, impacts, last.at, params)
    for touch in ordered:
        if touch.valence != 0:
            moment = _moment(touch, impacts.value[touch.id], 1.0, impacts.rank[touch.id])
            state.stages.setdefault(touch.stage, Episode()).add(moment)

    state.touch_count = len(ordered)
    state.last_at, state.last_id = last.at, last.id
    state.max_journey_id = max(episodes)
    state.active_journey_id, state.active = last.journey_id, episodes[last.journey_id]
    journeys = {jid: episode.summary(jid, last.at, params) for jid, episode in episodes.items()}
    for jid, summary in journeys.items():
        if jid == last.journey_id:
            continue
        state.closed_value += summary.value
        state.closed_lived += summary.mean
        state.closed_count += 1
        state.top_closed.append(summary)
    state.top_closed.sort(key=lambda j: j.rank_key(params), reverse=True)
    del state.top_closed[params.top_journeys :]
    return Recomputation(state, journeys, impacts)


def memory_value(touches: Iterable[Touch], as_of: float, params: MemoryParameters) -> float:
    """M at `as_of` of a whole history (touches after `as_of` included as given)."""
    ordered = sorted(touches, key=lambda t: t.order_key)
    impacts = felt_impacts(ordered, params)
    return sum(e.value(params) for e in _episodes(ordered, impacts, as_of, params).values())


def score_of(touches: Iterable[Touch], as_of: float, params: MemoryParameters) -> float:
    return score_for(memory_value(touches, as_of, params), params)


# -- explanations -------------------------------------------------------------------------
@dataclass(frozen=True)
class Driver:
    """A touch and the score points it accounts for: the score with it minus the score
    without it (leave-one-out), read at the same moment."""

    touch_id: int
    points: float


def _linked_ids(ordered: Sequence[Touch], params: MemoryParameters) -> set[int]:
    """Touches whose removal changes other touches' felt impacts: recoveries, the complaints
    they resolve, and failures that stand in the paradox window of a recovered complaint.
    Removing any other touch changes its own journey only."""
    by_id = {t.id: t for t in ordered}
    linked: set[int] = set()
    recovered: list[Touch] = []
    for touch in ordered:
        complaint = by_id.get(touch.resolves_id) if touch.resolves_id is not None else None
        if complaint is not None and complaint.order_key < touch.order_key:
            linked.update((touch.id, complaint.id))
            recovered.append(complaint)
    window = params.paradox_window_days * SECONDS_PER_DAY
    for failure in (t for t in ordered if t.is_failure):
        if any(failure.order_key < c.order_key and c.at - window <= failure.at for c in recovered):
            linked.add(failure.id)
    return linked


def _unlinked_by_journey(
    ordered: list[Touch],
    candidates: list[Touch],
    linked: set[int],
    impacts: Impacts,
    as_of: float,
    params: MemoryParameters,
) -> tuple[dict[int, list[Touch]], dict[int, list[Touch]], dict[int, float]]:
    """Every journey's touches, the unlinked candidates by journey, and for each of those
    journeys the most its value can move when one touch goes."""
    members: dict[int, list[Touch]] = {}
    for touch in ordered:
        members.setdefault(touch.journey_id, []).append(touch)
    by_journey: dict[int, list[Touch]] = {}
    for touch in candidates:
        if touch.id not in linked:
            by_journey.setdefault(touch.journey_id, []).append(touch)
    reach = 2.0 + params.repeat_failure_weight * (1.0 + params.repeat_failure_cap)
    bounds = {
        jid: reach * max(abs(impacts.value[t.id]) * params.decay(as_of - t.at) for t in members[jid])
        for jid in by_journey
    }
    return members, by_journey, bounds


def _none_can_beat(
    found: list[Driver], limit: int, base: float, total: float, bound: float, params: MemoryParameters
) -> bool:
    """True when `limit` drivers are found and a journey whose value can move by at most
    `bound` cannot reach the weakest of them."""
    if len(found) < limit:
        return False
    weakest = sorted((abs(d.points) for d in found), reverse=True)[limit - 1]
    reachable = max(abs(base - score_for(total + bound, params)), abs(base - score_for(total - bound, params)))
    return reachable < weakest


def drivers(
    touches: Iterable[Touch],
    as_of: float,
    params: MemoryParameters,
    *,
    limit: int = 5,
    among: set[int] | None = None,
) -> list[Driver]:
    """The touches whose removal would move the score most, with their signed points,
    strongest first (exact leave-one-out; `among` restricts the candidates).

    Removing an unlinked touch changes only its own journey, so that journey alone is
    rebuilt; journeys are visited strongest first and the search stops once no touch left
    could beat the weakest driver found (a journey's value cannot move by more than
    (2 + rho * (1 + cap)) times its strongest moment).
    """
    ordered = sorted(touches, key=lambda t: t.order_key)
    if not ordered:
        return []
    impacts = felt_impacts(ordered, params)
    episodes = _episodes(ordered, impacts, as_of, params)
    values = {jid: e.value(params) for jid, e in episodes.items()}
    total = sum(values.values())
    base = score_for(total, params)
    linked = _linked_ids(ordered, params)
    # A neutral touch makes no moment: removing it changes nothing.
    candidates = [t for t in ordered if (among is None or t.id in among) and t.valence != 0]
    found: list[Driver] = []

    def keep(touch_id: int, value_without: float) -> None:
        found.append(Driver(touch_id, base - score_for(value_without, params)))

    for touch in candidates:
        if touch.id in linked:
            rest = [t for t in ordered if t.id != touch.id]
            keep(touch.id, memory_value(rest, as_of, params))

    members, by_journey, bounds = _unlinked_by_journey(ordered, candidates, linked, impacts, as_of, params)
    for jid in sorted(by_journey, key=lambda j: (-bounds[j], j)):
        if _none_can_beat(found, limit, base, total, bounds[jid], params):
            break
        for touch in by_journey[jid]:
            without = [t for t in members[jid] if t.id != touch.id]
            value = _episodes(without, impacts, as_of, params).get(jid, Episode()).value(params)
            keep(touch.id, total - values[jid] + value)
    found.sort(key=lambda d: (-abs(d.points), d.touch_id))
    return found[:limit]


@dataclass(frozen=True)
class Change:
    """Why the score moved between `since` and `as_of`: the part that is fading (the same
    history read later) and the part each touch dated after `since` accounts for."""

    since: float
    score_then: float
    score_now: float
    fading: float
    new_touches: float
    drivers: list[Driver]


def change_since(
    touches: Iterable[Touch], since: float, as_of: float, params: MemoryParameters, *, limit: int = 5
) -> Change:
    ordered = sorted(touches, key=lambda t: t.order_key)
    known = [t for t in ordered if t.at <= since]
    then = score_of(known, since, params)
    known_now = score_of(known, as_of, params)
    now = score_of(ordered, as_of, params)
    newer = {t.id for t in ordered if t.at > since}
    return Change(
        since=since,
        score_then=then,
        score_now=now,
        fading=known_now - then,
        new_touches=now - known_now,
        drivers=drivers(ordered, as_of, params, limit=limit, among=newer) if newer else [],
    )


def expected_gain(state: MemoryState, touch: Touch, as_of: float, params: MemoryParameters) -> float:
    """Score points one more touch (e.g. a good call now) would add, read at `as_of`."""
    before = state.read(as_of, params).score
    trial = MemoryState.from_dict(state.to_dict())
    if not trial.can_append(touch):
        return 0.0
    trial.append(touch, params)
    return trial.read(as_of, params).score - before
