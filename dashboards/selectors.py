"""The manager dashboard's panels. Each reads precomputed state (memories, daily
touchpoint counts, daily score snapshots), never every interaction."""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone

from customers.models import Customer, Segment
from customers.selectors import lifecycle
from dashboards.models import DailyStat
from interactions.models import Channel, Interaction
from interactions.selectors import journeys_ending_badly, unrecovered_complaints
from journeys.models import JourneyStage
from memory.engine import MemoryParameters
from memory.models import Band, CustomerMemory, ScoreSnapshot
from memory.selectors import remembered_worse_than_lived
from memory.services import parameters_fingerprint


@dataclass(frozen=True)
class Filters:
    segment: Segment | None = None
    owner: User | None = None
    channel: str = ""
    stage: JourneyStage | None = None
    period_days: int = 90
    # Only customers remembering us worse than they lived (customer panels; the heatmap and
    # memory makers count touchpoints by day and cannot narrow to customers).
    remembered_worse: bool = False
    # Current, churned or all customers (the default: no join with the customers at all,
    # which the unfiltered panels avoid; churned customers are marked in the lists).
    lifecycle: str = "all"

    @property
    def since(self) -> date:
        return timezone.now().date() - timedelta(days=self.period_days)

    @property
    def since_start(self) -> datetime:
        """The first moment of `since` (UTC)."""
        return datetime.combine(self.since, time.min, tzinfo=UTC)

    def customers(self, prefix: str = "") -> Q:
        q = Q()
        if self.segment:
            q &= Q(**{f"{prefix}segment": self.segment})
        if self.owner:
            q &= Q(**{f"{prefix}owner": self.owner})
        if self.remembered_worse:
            q &= remembered_worse_than_lived(prefix)
        return q & lifecycle(self.lifecycle, prefix)

    def touchpoints(self, prefix: str = "") -> Q:
        q = self.customers(prefix + "customer__")
        if self.channel:
            q &= Q(**{f"{prefix}channel": self.channel})
        if self.stage:
            q &= Q(**{f"{prefix}stage": self.stage})
        return q


def _stats(filters: Filters) -> QuerySet[DailyStat]:
    q = Q(day__gte=filters.since)
    if filters.segment:
        q &= Q(segment_id=filters.segment.pk)
    if filters.owner:
        q &= Q(owner_id=filters.owner.pk)
    if filters.channel:
        q &= Q(channel=filters.channel)
    if filters.stage:
        q &= Q(stage_id=filters.stage.pk)
    return DailyStat.objects.filter(q)


def _felt_average(row: Mapping[str, Any], params: MemoryParameters) -> float | None:
    if not row["n"]:
        return None
    return (row["pos"] + params.loss_aversion * row["neg"]) / row["n"]


def band_distribution(filters: Filters) -> list[dict[str, Any]]:
    counts = dict(
        CustomerMemory.objects.filter(filters.customers("customer__"))
        .values_list("band")
        .annotate(n=Count("pk"))
        .values_list("band", "n")
    )
    total = sum(counts.values()) or 1
    return [
        {"band": band, "label": label, "count": counts.get(band, 0), "share": counts.get(band, 0) / total}
        for band, label in Band.choices
    ]


# A memory's running state and breakdown are kilobytes of JSON each that no list shows.
LIST_DEFERRED = ("state", "breakdown")


def at_risk(filters: Filters, limit: int = 15) -> QuerySet[CustomerMemory]:
    return (
        CustomerMemory.objects.filter(filters.customers("customer__"), band=Band.AT_RISK)
        .defer(*LIST_DEFERRED)
        .select_related("customer", "customer__owner", "customer__segment")
        .order_by("score", "customer_id")[:limit]
    )


def recovery_queue(filters: Filters, limit: int = 30) -> list[Interaction]:
    """Complaints, and bad endings of journeys still open, that nobody has recovered yet,
    oldest first: the customers we are tempted to avoid (seeds/002). The rule of
    waiting_for_recovery(), read as its two halves so that each follows an index."""
    complaints = (
        unrecovered_complaints()
        # A range on the column itself, not on its date: the index on occurred_at serves it.
        .filter(filters.touchpoints(), occurred_at__gte=filters.since_start)
        .select_related("customer", "customer__owner", "staff")
        .order_by("occurred_at", "id")[:limit]
    )
    endings = (
        journeys_ending_badly()
        .filter(filters.touchpoints("end_interaction__"), last_interaction_at__gte=filters.since_start)
        .select_related("end_interaction__customer__owner", "end_interaction__staff")
        .order_by("last_interaction_at", "end_interaction_id")[:limit]
    )
    candidates = [*complaints, *(j.end_interaction for j in endings if j.end_interaction is not None)]
    return heapq.nsmallest(limit, candidates, key=lambda i: (i.occurred_at, i.pk))


def heatmap(filters: Filters, params: MemoryParameters) -> dict[str, Any]:
    """Average felt impact by stage (rows) and channel (columns): where bad memories form."""
    rows = (
        _stats(filters)
        .values("stage_id", "channel")
        .annotate(n=Sum("count"), pos=Sum("positive_sum"), neg=Sum("negative_sum"))
    )
    cells = {(r["stage_id"], r["channel"]): (_felt_average(r, params), r["n"]) for r in rows}
    stages = [filters.stage] if filters.stage else list(JourneyStage.objects.all())
    channels = [(c, label) for c, label in Channel.choices if not filters.channel or c == filters.channel]
    grid = [
        (stage, [(label, *cells.get((stage.pk, channel), (None, 0))) for channel, label in channels])
        for stage in stages
    ]
    return {"channels": channels, "grid": grid, "in_words": _heatmap_in_words(grid)}


# A cell of a handful of touchpoints is an anecdote; the summary names only cells this big.
HEATMAP_SUMMARY_MIN = 5


def _heatmap_in_words(grid: list[tuple[JourneyStage, list[tuple[str, float | None, int]]]]) -> str:
    """The heatmap said in words: where memories form worst and best."""
    cells = [
        (value, count, stage.name, label)
        for stage, row in grid
        for label, value, count in row
        if value is not None and count >= HEATMAP_SUMMARY_MIN
    ]
    if not cells:
        return f"No stage and channel has {HEATMAP_SUMMARY_MIN} or more touchpoints in this period yet."
    worst, best = min(cells), max(cells)

    def say(cell: tuple[float, int, str, str]) -> str:
        value, count, stage, label = cell
        return f"{label.lower()} in {stage.lower()} ({value:+.2f} over {count} touchpoints)"

    sentence = f"Worst memories form at {say(worst)}"
    sentence += f"; best at {say(best)}." if best != worst else "."
    return sentence + f" Only cells with {HEATMAP_SUMMARY_MIN} or more touchpoints are named here."


def memory_makers(filters: Filters, params: MemoryParameters, limit: int = 12) -> list[dict[str, Any]]:
    """Staff by the felt impact of their touchpoints (seeds/001: hire memory makers)."""
    rows = (
        _stats(filters)
        .exclude(staff_id=0)
        .values("staff_id")
        .annotate(n=Sum("count"), pos=Sum("positive_sum"), neg=Sum("negative_sum"), bad=Sum("negative_count"))
    )
    people = User.objects.in_bulk([r["staff_id"] for r in rows])
    makers = [
        {
            "staff": people.get(r["staff_id"]),
            "touchpoints": r["n"],
            "felt": _felt_average(r, params),
            "bad_share": r["bad"] / r["n"] if r["n"] else 0.0,
        }
        for r in rows
        if r["n"]
    ]
    makers.sort(key=lambda m: m["felt"] or 0.0, reverse=True)
    return makers[:limit]


def next_best_touches(filters: Filters, limit: int = 12) -> QuerySet[CustomerMemory]:
    return (
        CustomerMemory.objects.filter(filters.customers("customer__"), next_touch_gain__gt=0)
        .defer(*LIST_DEFERRED)
        .select_related("customer", "customer__owner")
        .order_by("-next_touch_gain", "customer_id")[:limit]
    )


def score_trend(filters: Filters) -> list[tuple[date, float, int]]:
    rows = (
        ScoreSnapshot.objects.filter(filters.customers("customer__"), day__gte=filters.since)
        .values("day")
        .annotate(avg=Avg("score"), n=Count("pk"))
        .order_by("day")
    )
    return [(r["day"], r["avg"], r["n"]) for r in rows]


def customers_in_scope(filters: Filters) -> int:
    return Customer.objects.filter(filters.customers()).count()


AGGREGATES_CACHE_SECONDS = 120


def _aggregates_key(filters: Filters, params: MemoryParameters) -> str:
    parts = (
        filters.segment.pk if filters.segment else "",
        filters.owner.pk if filters.owner else "",
        filters.channel,
        filters.stage.pk if filters.stage else "",
        filters.period_days,
        filters.remembered_worse,
        filters.lifecycle,
        filters.since,
        parameters_fingerprint(params),
    )
    return "dashboard:" + ":".join(str(part) for part in parts)


def _aggregates(filters: Filters, params: MemoryParameters) -> dict[str, Any]:
    return {
        "bands": band_distribution(filters),
        "heatmap": heatmap(filters, params),
        "memory_makers": memory_makers(filters, params),
        "trend": score_trend(filters),
    }


def refresh_aggregates(filters: Filters, params: MemoryParameters) -> dict[str, Any]:
    """Compute the period totals now and keep them for the next two minutes."""
    fresh = _aggregates(filters, params)
    with contextlib.suppress(Exception):  # the cache (Redis) is down: still answer
        cache.set(_aggregates_key(filters, params), fresh, AGGREGATES_CACHE_SECONDS)
    return fresh


def cached_aggregates(filters: Filters, params: MemoryParameters) -> dict[str, Any]:
    """The panels that sum whole periods (bands, heatmap, memory makers, score trend),
    kept in the cache for two minutes: at 5 million touchpoints they read hundreds of
    thousands of daily rows, and a manager's view of a quarter does not change by the
    minute. The unfiltered views are kept warm by a beat task (dashboards.tasks); the
    lists a manager acts on (at risk, recovery queue, next best touch) stay live."""
    try:
        cached = cache.get(_aggregates_key(filters, params))
    except Exception:  # the cache (Redis) is down: the dashboard still works, uncached
        return _aggregates(filters, params)
    return cast(dict[str, Any], cached) if cached is not None else refresh_aggregates(filters, params)
