"""The memory in words, for people: which touchpoints the score is made of (the ones whose
removal would move it most, with their points), why it changed since the last snapshot,
and how what the customer will remember differs from what they lived through."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django.core.cache import cache

from interactions.models import Interaction, Valence
from memory.engine import Change, Driver, MemoryParameters, change_since, drivers
from memory.models import CustomerMemory, ScoreSnapshot
from memory.selectors import DIVERGENCE_POINTS
from memory.services import customer_touches, memory_parameters, parameters_fingerprint

logger = logging.getLogger(__name__)

DRIVER_COUNT = 5
# A touch that moves the score by less than this is not named as a driver.
NOTABLE_POINTS = 0.05
CACHE_SECONDS = 6 * 3600


@dataclass(frozen=True)
class DriverView:
    interaction: Interaction
    points: float
    recovered_by: Interaction | None = None

    @property
    def signed_points(self) -> str:
        return f"{self.points:+.1f}"

    @property
    def words(self) -> str:
        i = self.interaction
        text = f"{i.get_channel_display().lower()} on {i.occurred_at:%-d %b %Y} ({Valence(i.valence).label.lower()})"
        if self.recovered_by is not None:
            text += f", softened by the recovery on {self.recovered_by.occurred_at:%-d %b}"
        if i.resolves is not None:
            text += f", recovering the {i.resolves.get_channel_display().lower()} of {i.resolves.occurred_at:%-d %b}"
        return f"{text}: {self.signed_points} points"


@dataclass(frozen=True)
class ChangeView:
    since: date
    score_then: float
    score_now: float
    fading: float
    new_touches: float
    drivers: list[DriverView]

    @property
    def words(self) -> str:
        delta = self.score_now - self.score_then
        if abs(delta) < 0.05:
            return f"Unchanged since {self.since:%-d %b} ({self.score_then:.0f})."
        parts = []
        if abs(self.fading) >= 0.05:
            parts.append(f"fading {self.fading:+.1f}")
        if self.drivers:
            touches = "; ".join(d.words for d in self.drivers)
            parts.append(f"new touchpoints {self.new_touches:+.1f} ({touches})")
        head = f"Since {self.since:%-d %b} ({self.score_then:.0f} then, {self.score_now:.0f} now)"
        return f"{head}: {', '.join(parts)}."


@dataclass(frozen=True)
class Explanation:
    drivers: list[DriverView]
    latest: Interaction | None
    score: float
    lived_score: float | None
    change: ChangeView | None
    strength: float
    days_since_last: int | None

    @property
    def lived_gap(self) -> float | None:
        return None if self.lived_score is None else self.score - self.lived_score

    @property
    def sentences(self) -> list[str]:
        if self.latest is None:
            return ["No touchpoints yet: nothing to remember, so the score sits at neutral."]
        lines = []
        if self.drivers:
            lines.append("Remembered mostly for: " + "; ".join(d.words for d in self.drivers) + ".")
        else:
            lines.append("Nothing stands out: every touchpoint was neutral, or has faded from memory.")
        latest = self.latest
        lines.append(
            f"Latest touchpoint: {latest.get_channel_display().lower()} on {latest.occurred_at:%-d %b %Y} "
            f"({Valence(latest.valence).label.lower()})."
        )
        gap = self.lived_gap
        if gap is not None and abs(gap) >= DIVERGENCE_POINTS:
            direction = "worse" if gap < 0 else "better"
            lines.append(
                f"Remembered {direction} than lived: {self.score:.0f} remembered against {self.lived_score:.0f} "
                "lived through on average, because peaks and endings weigh more than the rest."
            )
        if self.change is not None:
            lines.append(self.change.words)
        if self.strength < 0.8 and self.days_since_last is not None:
            lines.append(
                f"Fading: nothing for {self.days_since_last} days, "
                f"the memory keeps {self.strength:.0%} of its strength."
            )
        return lines

    def as_data(self) -> dict[str, Any]:
        """The API's shape of the same facts."""

        def driver(d: DriverView) -> dict[str, Any]:
            i = d.interaction
            return {
                "interaction": i.pk,
                "occurred_at": i.occurred_at,
                "channel": i.channel,
                "valence": i.valence,
                "summary": i.summary,
                "points": round(d.points, 2),
            }

        change = self.change
        return {
            "drivers": [driver(d) for d in self.drivers],
            "lived_score": self.lived_score,
            "lived_gap": self.lived_gap,
            "change": (
                {
                    "since": change.since,
                    "score_then": round(change.score_then, 2),
                    "score_now": round(change.score_now, 2),
                    "fading": round(change.fading, 2),
                    "new_touchpoints": round(change.new_touches, 2),
                    "drivers": [driver(d) for d in change.drivers],
                }
                if change
                else None
            ),
        }


def _figures(
    memory: CustomerMemory, now: datetime, since: date | None, params: MemoryParameters
) -> tuple[list[Driver], Change | None]:
    """Leave-one-out drivers and the change since `since`, cached until the history, the
    model or the day changes (they cost a read of the whole history)."""
    key = ":".join(
        str(part)
        for part in (
            "memory-explain",
            memory.customer_id,
            memory.max_interaction_id,
            memory.rewrite_version,
            parameters_fingerprint(params),
            now.date(),
            since,
        )
    )
    try:
        cached = cache.get(key)
    except Exception:  # the cache (Redis) is down: explain without it, as the dashboard does
        logger.warning("memory explanation not cached: the cache is unavailable", exc_info=True)
        cached = None
    if cached is not None:
        return cached
    touches = customer_touches(memory.customer_id)
    as_of = now.timestamp()
    found = drivers(touches, as_of, params, limit=DRIVER_COUNT)
    change = None
    if since is not None:
        cutoff = datetime.combine(since, time(23, 59, 59), tzinfo=UTC).timestamp()
        change = change_since(touches, cutoff, as_of, params, limit=3)
    with contextlib.suppress(Exception):  # the cache is down: already logged above
        cache.set(key, (found, change), CACHE_SECONDS)
    return found, change


def explain(
    memory: CustomerMemory | None, *, now: datetime | None = None, params: MemoryParameters | None = None
) -> Explanation:
    """`params`: the parameters in force, when the caller has read them already."""
    now = now or datetime.now(UTC)
    if memory is None or memory.max_interaction_id == 0:
        return Explanation([], None, memory.score if memory else 50.0, None, None, 1.0, None)
    since = (
        ScoreSnapshot.objects.filter(customer_id=memory.customer_id, day__lt=now.date())
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )
    found, change = _figures(memory, now, since, params or memory_parameters())
    wanted = {d.touch_id for d in found} | ({d.touch_id for d in change.drivers} if change else set())
    interactions = Interaction.objects.select_related("resolves").in_bulk(wanted)
    recoveries: dict[int, Interaction] = {}
    for recovery in Interaction.objects.filter(resolves_id__in=wanted, valence__gt=0).order_by("occurred_at", "id"):
        recoveries.setdefault(recovery.resolves_id, recovery)  # type: ignore[arg-type]
    latest = Interaction.objects.filter(customer_id=memory.customer_id).order_by("-occurred_at", "-id").first()

    def views(items: list[Driver]) -> list[DriverView]:
        return [
            DriverView(interactions[d.touch_id], d.points, recoveries.get(d.touch_id))
            for d in items
            if d.touch_id in interactions and abs(d.points) >= NOTABLE_POINTS
        ]

    change_view = None
    if change is not None and since is not None:
        change_view = ChangeView(
            since, change.score_then, change.score_now, change.fading, change.new_touches, views(change.drivers)
        )
    days = (now - latest.occurred_at).days if latest else None
    strength = float((memory.breakdown or {}).get("decay", 1.0))
    return Explanation(views(found), latest, memory.score, memory.lived_score, change_view, strength, days)
