"""The memory model: what a customer will remember of their touchpoints with us.

Pure Python, no Django: it can be read, tested and reasoned about on its own.
docs/memory-score.md explains the model in words, with its sources and a worked example.

Vocabulary
- touch: one interaction as the model sees it (time, journey, stage, valence, intensity).
- felt impact e: how the touch is remembered on its own; x = (valence/2)(intensity/5) in
  [-1, 1], negative x multiplied by the loss-aversion factor lambda; a complaint that was
  recovered is softened, a first moderate failure recovered excellently gives its
  recovery a bonus (the recovery paradox).
- episode value J: one journey remembered by peak and end blended with the mean:
  J = alpha * (peak + end) / 2 + (1 - alpha) * mean.
- salience s: how vivid the journey is, the raw magnitude of its peak (never below a
  floor): vivid journeys dominate what is remembered, faint ones barely count.
- memory value M(t) = decay(t - t_last) * sum_j(s_j J_j w_j) / (k + sum_j(s_j w_j)),
  w_j = 2^(-(t_last - end_j)/h), the sums taken at the latest touch t_last. The numerator
  keeps fading after the last touch while the denominator stays where the last touch left
  it, so with no news every memory, rich or thin, fades toward neutral by exactly half
  per half-life; k (the pseudo-count) keeps one faint touch near neutral.
- score = 50 + 50 * tanh(gain * M), 0..100 with 50 neutral.

The running state (MemoryState) folds touches in time order in O(1) each; a full
recomputation (`recompute`) reaches the same state from the whole history. A touch that
arrives out of order, reopens an earlier journey, or resolves a complaint changes the past,
so `MemoryState.can_append` refuses it and the caller recomputes that customer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SECONDS_PER_DAY = 86_400.0
COMPLAINT_CHANNEL = "complaint"
STATE_FORMAT = 1


@dataclass(frozen=True)
class MemoryParameters:
    """Every tunable number of the model; docs/memory-score.md cites the source of each."""

    loss_aversion: float = 2.25
    peak_end_weight: float = 0.5
    half_life_days: float = 90.0
    pseudo_count: float = 0.5
    salience_floor: float = 0.1
    recovery_softening: float = 0.6
    first_contact_quality: float = 0.75
    paradox_window_days: float = 365.0
    paradox_max_severity: float = 0.5
    paradox_min_recovery: float = 0.6
    paradox_bonus: float = 0.3
    display_gain: float = 1.5
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

    @property
    def half_life_seconds(self) -> float:
        return self.half_life_days * SECONDS_PER_DAY

    def decay(self, seconds: float) -> float:
        """Weight left after `seconds`: 2^(-seconds / half-life)."""
        return math.pow(2.0, -seconds / self.half_life_seconds)


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
        return self.channel == COMPLAINT_CHANNEL or self.valence <= -1


@dataclass
class Moment:
    """A touch as remembered: its felt impact at its time."""

    touch_id: int
    at: float
    impact: float

    def to_dict(self) -> dict[str, Any]:
        return {"touch_id": self.touch_id, "at": self.at, "impact": self.impact}

    def copy(self) -> Moment:
        return Moment(self.touch_id, self.at, self.impact)


# to_dict methods below are written out: dataclasses.asdict deep-copies every value and
# was a third of a full recompute's time (profiled at 5M touchpoints).
def _moment_or_none(moment: Moment | None) -> dict[str, Any] | None:
    return moment.to_dict() if moment is not None else None


@dataclass
class PeakEnd:
    """Peak, end and mean of a sequence of felt impacts fed in time order (O(1) each)."""

    count: int = 0
    total: float = 0.0
    peak: Moment | None = None
    peak_raw: float = 0.0
    end: Moment | None = None

    def add(self, moment: Moment, raw: float) -> None:
        self.count += 1
        self.total += moment.impact
        # Ties go to the later moment: of two equally strong moments the recent one is
        # the more vivid.
        if self.peak is None or abs(moment.impact) >= abs(self.peak.impact):
            self.peak = moment
            self.peak_raw = raw
        self.end = moment

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def value(self, alpha: float) -> float:
        if self.peak is None or self.end is None:
            return 0.0
        return alpha * (self.peak.impact + self.end.impact) / 2.0 + (1.0 - alpha) * self.mean

    def salience(self, floor: float) -> float:
        return max(abs(self.peak_raw), floor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "total": self.total,
            "peak": _moment_or_none(self.peak),
            "peak_raw": self.peak_raw,
            "end": _moment_or_none(self.end),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PeakEnd:
        return cls(
            count=data["count"],
            total=data["total"],
            peak=Moment(**data["peak"]) if data.get("peak") else None,
            peak_raw=data["peak_raw"],
            end=Moment(**data["end"]) if data.get("end") else None,
        )


@dataclass
class Episode:
    """One journey being remembered."""

    journey_id: int
    acc: PeakEnd = field(default_factory=PeakEnd)

    def value(self, params: MemoryParameters) -> float:
        return self.acc.value(params.peak_end_weight)

    def salience(self, params: MemoryParameters) -> float:
        return self.acc.salience(params.salience_floor)

    @property
    def end_at(self) -> float:
        assert self.acc.end is not None
        return self.acc.end.at

    def summary(self, params: MemoryParameters) -> JourneyMemory:
        assert self.acc.peak is not None and self.acc.end is not None
        return JourneyMemory(
            journey_id=self.journey_id,
            value=self.value(params),
            salience=self.salience(params),
            end_at=self.end_at,
            peak=self.acc.peak.copy(),
            end=self.acc.end.copy(),
            count=self.acc.count,
            mean=self.acc.mean,
        )


@dataclass
class JourneyMemory:
    """A closed-over journey: what the customer keeps of it."""

    journey_id: int
    value: float
    salience: float
    end_at: float
    peak: Moment
    end: Moment
    count: int
    mean: float

    def rank_key(self, params: MemoryParameters) -> tuple[float, int]:
        # A journey's contribution s*|J|*2^(-(t - end)/h) shrinks at the same rate for every
        # closed journey, so this time-free key orders them for all t: the top list never
        # needs re-sorting as time passes.
        magnitude = self.salience * abs(self.value)
        if magnitude <= 0.0:
            return (-math.inf, self.journey_id)
        return (math.log(magnitude) + self.end_at * math.log(2.0) / params.half_life_seconds, self.journey_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "value": self.value,
            "salience": self.salience,
            "end_at": self.end_at,
            "peak": self.peak.to_dict(),
            "end": self.end.to_dict(),
            "count": self.count,
            "mean": self.mean,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JourneyMemory:
        return cls(
            journey_id=data["journey_id"],
            value=data["value"],
            salience=data["salience"],
            end_at=data["end_at"],
            peak=Moment(**data["peak"]),
            end=Moment(**data["end"]),
            count=data["count"],
            mean=data["mean"],
        )


@dataclass
class Reading:
    """The memory as of one moment: score, band and everything needed to explain it."""

    as_of: float
    score: float
    band: str
    value: float
    decay: float
    touch_count: int
    closed_sum: float
    closed_weight: float
    pseudo_count: float
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
            "closed_sum": self.closed_sum,
            "closed_weight": self.closed_weight,
            "pseudo_count": self.pseudo_count,
            "active": self.active.to_dict() if self.active else None,
            "top_journeys": [j.to_dict() for j in self.top_journeys],
            "stages": {stage: dict(values) for stage, values in self.stages.items()},
            "peak": _moment_or_none(self.peak),
            "end": _moment_or_none(self.end),
        }


def band_for(score: float, params: MemoryParameters) -> str:
    if score < params.at_risk_below:
        return "at_risk"
    if score > params.good_above:
        return "good"
    return "neutral"


def score_for(value: float, params: MemoryParameters) -> float:
    return 50.0 + 50.0 * math.tanh(params.display_gain * value)


def felt(raw: float, params: MemoryParameters) -> float:
    return raw if raw >= 0.0 else params.loss_aversion * raw


def impact_on_arrival(touch: Touch, params: MemoryParameters) -> float:
    """Felt impact of a touch that resolves nothing, with what is known when it arrives.

    A complaint settled on first contact (seeds/003, "empower personal action") is
    softened as if a good recovery had followed at once.
    """
    raw = touch.raw_impact
    impact = felt(raw, params)
    if raw < 0.0 and touch.resolved_on_first_contact:
        impact *= 1.0 - params.recovery_softening * params.first_contact_quality
    return impact


def felt_impacts(touches: list[Touch], params: MemoryParameters) -> tuple[dict[int, float], set[int]]:
    """Felt impact of every touch of a history given in time order, recoveries applied.

    Returns the impacts by touch id and the ids of recoveries that earned the paradox
    bonus. A recovery (a positive touch that `resolves` an earlier negative one) softens
    the complaint in proportion to how good it was. It earns the recovery-paradox bonus
    only after a first failure of moderate severity within the window, answered by an
    excellent recovery (McCollough & Bharadwaj 1992; Maxham & Netemeyer 2002).
    """
    impacts = {t.id: impact_on_arrival(t, params) for t in touches}
    by_id = {t.id: t for t in touches}
    recovery_quality: dict[int, float] = {}
    first_recovery: dict[int, Touch] = {}
    for touch in touches:
        complaint = by_id.get(touch.resolves_id) if touch.resolves_id is not None else None
        if complaint is None or complaint.order_key >= touch.order_key:
            continue
        raw = touch.raw_impact
        if raw <= 0.0 or complaint.raw_impact >= 0.0:
            continue
        recovery_quality[complaint.id] = max(recovery_quality.get(complaint.id, 0.0), raw)
        first_recovery.setdefault(complaint.id, touch)

    window = params.paradox_window_days * SECONDS_PER_DAY
    failures = [t for t in touches if t.is_failure]
    paradox: set[int] = set()
    for complaint_id, quality in recovery_quality.items():
        complaint = by_id[complaint_id]
        if complaint.resolved_on_first_contact:
            quality = max(quality, params.first_contact_quality)
        impacts[complaint_id] = felt(complaint.raw_impact, params) * (1.0 - params.recovery_softening * quality)

        recovery = first_recovery[complaint_id]
        moderate = -complaint.raw_impact <= params.paradox_max_severity
        excellent = recovery.raw_impact >= params.paradox_min_recovery
        earlier_failure = any(
            f.id != complaint.id and complaint.at - window <= f.at and f.order_key < complaint.order_key
            for f in failures
        )
        if moderate and excellent and not earlier_failure:
            impacts[recovery.id] += params.paradox_bonus
            paradox.add(recovery.id)
    return impacts, paradox


@dataclass
class MemoryState:
    """Running memory of one customer, updated in O(1) per touch that arrives in order.

    closed_sum and closed_weight are sum(s J w) and sum(s w) over every journey but the
    active one, with weights taken at `last_at` (the latest touch).
    """

    touch_count: int = 0
    last_at: float | None = None
    last_id: int | None = None
    max_journey_id: int = 0
    active: Episode | None = None
    closed_sum: float = 0.0
    closed_weight: float = 0.0
    closed_count: int = 0
    top_closed: list[JourneyMemory] = field(default_factory=list)
    stages: dict[str, PeakEnd] = field(default_factory=dict)

    # -- arrival ------------------------------------------------------------------------
    def can_append(self, touch: Touch) -> bool:
        """Whether `touch` can be folded in without rewriting what is already remembered."""
        if touch.resolves_id is not None:
            return False
        if self.last_at is not None and self.last_id is not None and touch.order_key <= (self.last_at, self.last_id):
            return False
        is_active = self.active is not None and touch.journey_id == self.active.journey_id
        return is_active or touch.journey_id > self.max_journey_id

    def append(self, touch: Touch, params: MemoryParameters) -> None:
        """Fold one touch in; refuses one that would rewrite what is already remembered."""
        if not self.can_append(touch):
            raise ValueError(f"touch {touch.id} rewrites history; recompute the customer instead")
        impact = impact_on_arrival(touch, params)
        if self.last_at is not None:
            factor = params.decay(touch.at - self.last_at)
            self.closed_sum *= factor
            self.closed_weight *= factor
        if self.active is None or self.active.journey_id != touch.journey_id:
            self._close_active(touch.at, params)
            self.active = Episode(journey_id=touch.journey_id)
        moment = Moment(touch_id=touch.id, at=touch.at, impact=impact)
        self.active.acc.add(moment, touch.raw_impact)
        self.stages.setdefault(touch.stage, PeakEnd()).add(moment.copy(), touch.raw_impact)
        self.touch_count += 1
        self.last_at, self.last_id = touch.at, touch.id
        self.max_journey_id = max(self.max_journey_id, touch.journey_id)

    def _close_active(self, now: float, params: MemoryParameters) -> None:
        if self.active is None:
            return
        summary = self.active.summary(params)
        weight = summary.salience * params.decay(now - summary.end_at)
        self.closed_sum += weight * summary.value
        self.closed_weight += weight
        self.closed_count += 1
        self._remember_top(summary, params)
        self.active = None

    def _remember_top(self, summary: JourneyMemory, params: MemoryParameters) -> None:
        self.top_closed.append(summary)
        self.top_closed.sort(key=lambda j: j.rank_key(params), reverse=True)
        del self.top_closed[params.top_journeys :]

    # -- reading ------------------------------------------------------------------------
    def read(self, as_of: float, params: MemoryParameters) -> Reading:
        active = self.active.summary(params) if self.active else None
        total_sum = self.closed_sum + (active.salience * active.value if active else 0.0)
        total_weight = self.closed_weight + (active.salience if active else 0.0)
        elapsed = max(0.0, as_of - self.last_at) if self.last_at is not None else 0.0
        decay = params.decay(elapsed)
        value = decay * total_sum / (params.pseudo_count + total_weight)
        score = score_for(value, params)
        top = list(self.top_closed)
        if active is not None:
            top.append(active)
            top.sort(key=lambda j: j.rank_key(params), reverse=True)
            del top[params.top_journeys :]
        stages = {
            stage: {"value": acc.value(params.peak_end_weight), "count": float(acc.count), "mean": acc.mean}
            for stage, acc in sorted(self.stages.items())
        }
        return Reading(
            as_of=as_of,
            score=score,
            band=band_for(score, params),
            value=value,
            decay=decay,
            touch_count=self.touch_count,
            closed_sum=self.closed_sum,
            closed_weight=self.closed_weight,
            pseudo_count=params.pseudo_count,
            active=active,
            top_journeys=top,
            stages=stages,
        )

    def journey_values(self, params: MemoryParameters) -> dict[int, JourneyMemory]:
        """What is known here of individual journeys: the active one (for O(1) writes)."""
        return {self.active.journey_id: self.active.summary(params)} if self.active else {}

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "touch_count": self.touch_count,
            "last_at": self.last_at,
            "last_id": self.last_id,
            "max_journey_id": self.max_journey_id,
            "active": (
                {"journey_id": self.active.journey_id, "acc": self.active.acc.to_dict()} if self.active else None
            ),
            "closed_sum": self.closed_sum,
            "closed_weight": self.closed_weight,
            "closed_count": self.closed_count,
            "top_closed": [j.to_dict() for j in self.top_closed],
            "stages": {stage: acc.to_dict() for stage, acc in self.stages.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> MemoryState:
        if not data or data.get("format") != STATE_FORMAT:
            return cls()
        active = data.get("active")
        return cls(
            touch_count=data["touch_count"],
            last_at=data["last_at"],
            last_id=data["last_id"],
            max_journey_id=data["max_journey_id"],
            active=Episode(active["journey_id"], PeakEnd.from_dict(active["acc"])) if active else None,
            closed_sum=data["closed_sum"],
            closed_weight=data["closed_weight"],
            closed_count=data["closed_count"],
            top_closed=[JourneyMemory.from_dict(j) for j in data["top_closed"]],
            stages={stage: PeakEnd.from_dict(acc) for stage, acc in data["stages"].items()},
        )


@dataclass
class Recomputation:
    state: MemoryState
    journeys: dict[int, JourneyMemory]
    impacts: dict[int, float]
    paradox_recoveries: set[int]


def recompute(touches: Iterable[Touch], params: MemoryParameters) -> Recomputation:
    """The memory of a whole history, computed from scratch.

    Journeys are grouped explicitly, so a history in which journeys interleave is
    remembered correctly; every journey's weight is taken directly from its end time.
    """
    ordered = sorted(touches, key=lambda t: t.order_key)
    impacts, paradox = felt_impacts(ordered, params)
    state = MemoryState()
    if not ordered:
        return Recomputation(state, {}, impacts, paradox)

    episodes: dict[int, Episode] = {}
    for touch in ordered:
        moment = Moment(touch_id=touch.id, at=touch.at, impact=impacts[touch.id])
        episodes.setdefault(touch.journey_id, Episode(touch.journey_id)).acc.add(moment, touch.raw_impact)
        state.stages.setdefault(touch.stage, PeakEnd()).add(moment.copy(), touch.raw_impact)

    last = ordered[-1]
    state.touch_count = len(ordered)
    state.last_at, state.last_id = last.at, last.id
    state.max_journey_id = max(episodes)
    state.active = episodes[last.journey_id]
    journeys = {jid: episode.summary(params) for jid, episode in episodes.items()}
    for jid, summary in journeys.items():
        if jid == last.journey_id:
            continue
        weight = summary.salience * params.decay(last.at - summary.end_at)
        state.closed_sum += weight * summary.value
        state.closed_weight += weight
        state.closed_count += 1
        state.top_closed.append(summary)
    state.top_closed.sort(key=lambda j: j.rank_key(params), reverse=True)
    del state.top_closed[params.top_journeys :]
    return Recomputation(state, journeys, impacts, paradox)


def expected_gain(state: MemoryState, touch: Touch, as_of: float, params: MemoryParameters) -> float:
    """Score points one more touch (e.g. a good call now) would add, read at `as_of`."""
    before = state.read(as_of, params).score
    trial = MemoryState.from_dict(state.to_dict())
    if not trial.can_append(touch):
        return 0.0
    trial.append(touch, params)
    return trial.read(as_of, params).score - before
