"""Which journey (episode) a touchpoint belongs to: the rules, on journeys held in memory.

Pure Python (no database): journeys/services.py loads the journeys a batch of touchpoints
can touch, runs these rules, and writes back what changed. One implementation serves the
single and the bulk path.

1. A touchpoint with a `journey_ref` (an order, a ticket) joins that journey, created on
   first use. Named journeys are never chosen automatically.
2. Otherwise it joins the automatic journey that was under way when it happened: the
   latest one started at or before it, if that journey was not yet closed by then, the
   customer was not silent for longer than the quiet gap, and the journey has not yet
   lasted the longest episode span. A late arrival from shortly before the next journey
   began (within the quiet gap, within the span) joins that journey instead.
3. Otherwise a new automatic journey opens, and the one open before it is closed (quiet
   gap or longest span). A touchpoint older than an existing later journey opens a
   journey that is closed at once ("superseded"), so only the latest automatic journey
   is ever open (a database constraint holds this).
4. An evaluation-stage touchpoint closes its journey: the customer has looked back on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

EVALUATION = "evaluation"
QUIET_GAP = "quiet_gap"
MAX_SPAN = "max_span"
SUPERSEDED = "superseded"


@dataclass(eq=False)
class JourneyDraft:
    """A journey as the rules see it; `pk` is None until it is saved."""

    ref: str
    started_at: datetime
    last_interaction_at: datetime
    closed_at: datetime | None = None
    close_reason: str = ""
    interaction_count: int = 0
    pk: int | None = None
    changed: bool = False

    def close(self, at: datetime, reason: str) -> None:
        self.closed_at, self.close_reason, self.changed = max(at, self.started_at), reason, True


class JourneyBook:
    """The journeys of one customer that a batch of touchpoints may touch."""

    def __init__(self, journeys: list[JourneyDraft], *, quiet_gap: timedelta, max_span: timedelta) -> None:
        self.journeys = journeys
        self.quiet_gap = quiet_gap
        self.max_span = max_span

    def assign(self, occurred_at: datetime, stage_key: str, journey_ref: str = "") -> JourneyDraft:
        journey = self._named(journey_ref, occurred_at) if journey_ref else self._automatic(occurred_at)
        if occurred_at < journey.started_at or occurred_at > journey.last_interaction_at:
            journey.started_at = min(journey.started_at, occurred_at)
            journey.last_interaction_at = max(journey.last_interaction_at, occurred_at)
        journey.interaction_count += 1
        journey.changed = True
        if stage_key == EVALUATION and journey.closed_at is None:
            journey.close(occurred_at, EVALUATION)
        return journey

    def _named(self, ref: str, occurred_at: datetime) -> JourneyDraft:
        for journey in self.journeys:
            if journey.ref == ref:
                return journey
        return self._open(ref, occurred_at)

    def _open(self, ref: str, occurred_at: datetime) -> JourneyDraft:
        journey = JourneyDraft(ref=ref, started_at=occurred_at, last_interaction_at=occurred_at, changed=True)
        self.journeys.append(journey)
        return journey

    def _accepts(self, journey: JourneyDraft, occurred_at: datetime) -> bool:
        if journey.closed_at is not None and occurred_at > journey.closed_at:
            return False
        if occurred_at - journey.last_interaction_at > self.quiet_gap:
            return False
        return occurred_at - journey.started_at <= self.max_span

    def _automatic(self, occurred_at: datetime) -> JourneyDraft:
        auto = sorted((j for j in self.journeys if not j.ref), key=lambda j: (j.started_at, j.pk or 0))
        before = [j for j in auto if j.started_at <= occurred_at]
        if before and self._accepts(before[-1], occurred_at):
            return before[-1]
        after = [j for j in auto if j.started_at > occurred_at]
        if after:
            following = after[0]
            if (
                following.started_at - occurred_at <= self.quiet_gap
                and following.last_interaction_at - occurred_at <= self.max_span
            ):
                return following
            journey = self._open("", occurred_at)
            journey.close(occurred_at, SUPERSEDED)
            return journey
        for open_journey in (j for j in auto if j.closed_at is None):
            quiet = occurred_at - open_journey.last_interaction_at > self.quiet_gap
            open_journey.close(open_journey.last_interaction_at, QUIET_GAP if quiet else MAX_SPAN)
        return self._open("", occurred_at)
