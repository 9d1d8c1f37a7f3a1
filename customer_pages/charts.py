"""Charts drawn on the server as SVG: no script, no CDN, readable without JavaScript."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString

from config.charts import series_in_words
from interactions.models import Channel, Interaction, Valence
from memory.engine import MemoryParameters, felt
from memory.models import ScoreSnapshot

WIDTH, HEIGHT = 880, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 14, 28


@dataclass(frozen=True)
class LanePoint:
    x: float
    y: float
    kind: str  # "peak", "end" or "plain"
    sign: str  # "good", "bad" or "neutral"
    title: str


@dataclass(frozen=True)
class MemoryLane:
    width: int
    height: int
    points: list[LanePoint]
    points_svg: SafeString  # the dots as markup: a template loop over 400 of them cost 40 ms
    score_path: str
    score_dots: list[tuple[float, float, str]]
    zero_y: float
    top_y: float
    bottom_y: float
    ticks: list[tuple[float, str]]
    left: int
    right_x: int
    plot_w: int
    plot_h: int
    tick_y: int
    impact_labels: list[tuple[float, str]]
    score_labels: list[tuple[float, str]]
    empty: bool
    in_words: str  # what the chart shows, for those who cannot see it


# Plain lookups: get_FOO_display() flattens the choices on every call (400 dots, 10 ms).
CHANNELS = dict(Channel.choices)
FELT = {value: str(label).lower() for value, label in Valence.choices}
DOT_MARKUP = {
    "peak": '<circle cx="{}" cy="{}" r="7" class="dot {} peak"><title>{}</title></circle>',
    "end": (
        '<rect x="-5" y="-5" width="10" height="10" transform="translate({},{})" class="dot {} end">'
        "<title>{}</title></rect>"
    ),
    "plain": '<circle cx="{}" cy="{}" r="3.5" class="dot {}"><title>{}</title></circle>',
}


def _dots(points: list[LanePoint]) -> SafeString:
    # The coordinates are floats and the sign a fixed word; only the title is text to escape.
    return SafeString("".join(DOT_MARKUP[p.kind].format(p.x, p.y, p.sign, escape(p.title)) for p in points))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _lane_in_words(points: list[LanePoint], snapshots: Sequence[ScoreSnapshot]) -> str:
    if not points:
        return "No touchpoints in the last year."
    signs = {sign: sum(1 for p in points if p.sign == sign) for sign in ("good", "bad", "neutral")}
    marked = [p.title for p in points if p.kind != "plain"]
    sentences = [
        f"{_count(len(points), 'touchpoint')} in the last year: {signs['good']} good, {signs['bad']} bad, "
        f"{signs['neutral']} neutral."
    ]
    if marked:
        sentences.append("Marked: " + "; ".join(marked[-6:]) + ("" if len(marked) <= 6 else " (the latest six)") + ".")
    sentences.append(series_in_words([(s.day, s.score) for s in snapshots], "memory score"))
    return " ".join(sentences)


@dataclass(frozen=True)
class _Scale:
    """Where a moment, a felt impact and a score fall on the chart."""

    start: datetime
    span: float
    low: float
    high: float
    plot_w: int = WIDTH - LEFT - RIGHT
    plot_h: int = HEIGHT - TOP - BOTTOM

    def x_of(self, moment: datetime) -> float:
        return round(LEFT + self.plot_w * (moment - self.start).total_seconds() / self.span, 1)

    def y_of_impact(self, value: float) -> float:
        return round(TOP + self.plot_h * (self.high - value) / (self.high - self.low), 1)

    def y_of_score(self, score: float) -> float:
        return round(TOP + self.plot_h * (100 - score) / 100, 1)


def _lane_points(
    interactions: Sequence[Interaction], scale: _Scale, *, peaks: set[int], ends: set[int], params: MemoryParameters
) -> list[LanePoint]:
    points = []
    for i in interactions:
        impact = felt((i.valence / 2) * (i.intensity / 5), params)
        kind = "peak" if i.pk in peaks else "end" if i.pk in ends else "plain"
        sign = "good" if impact > 0 else "bad" if impact < 0 else "neutral"
        title = f"{i.occurred_at:%-d %b %Y}: {CHANNELS[i.channel]}, {FELT[i.valence]}"
        if kind != "plain":
            title += f" (the {kind} of its journey)"
        points.append(LanePoint(scale.x_of(i.occurred_at), scale.y_of_impact(impact), kind, sign, title))
    return points


def memory_lane(
    interactions: Sequence[Interaction],
    snapshots: Sequence[ScoreSnapshot],
    *,
    peaks: set[int],
    ends: set[int],
    params: MemoryParameters,
    now: datetime | None = None,
) -> MemoryLane:
    now = now or timezone.now()

    def noon(day: date) -> datetime:
        return datetime.combine(day, time(12), tzinfo=now.tzinfo)

    start = min(
        [i.occurred_at for i in interactions] + [noon(s.day) for s in snapshots], default=now - timedelta(days=30)
    )
    scale = _Scale(start=start, span=max((now - start).total_seconds(), 86_400.0), low=-params.loss_aversion, high=1.0)
    points = _lane_points(interactions, scale, peaks=peaks, ends=ends, params=params)
    return MemoryLane(
        width=WIDTH,
        height=HEIGHT,
        points=points,
        points_svg=_dots(points),
        score_path=" ".join(
            f"{'M' if n == 0 else 'L'}{scale.x_of(noon(s.day))},{scale.y_of_score(s.score)}"
            for n, s in enumerate(snapshots)
        ),
        # The latest reading as a dot, so one day of history still shows a score.
        score_dots=[
            (scale.x_of(noon(s.day)), scale.y_of_score(s.score), f"{s.day:%-d %b}: {s.score:.0f}")
            for s in snapshots[-1:]
        ],
        zero_y=scale.y_of_impact(0.0),
        top_y=TOP,
        bottom_y=HEIGHT - BOTTOM,
        ticks=_month_ticks(start.date(), now.date(), scale.x_of, now),
        left=LEFT,
        right_x=WIDTH - RIGHT,
        plot_w=scale.plot_w,
        plot_h=scale.plot_h,
        tick_y=HEIGHT - 8,
        impact_labels=[(scale.y_of_impact(v), f"{v:+.1f}") for v in (1.0, 0.0, -1.0, -params.loss_aversion)],
        score_labels=[(scale.y_of_score(v), str(v)) for v in (100, 50, 0)],
        empty=not interactions,
        in_words=_lane_in_words(points, snapshots),
    )


def _month_ticks(first: date, last: date, x_of: Callable[[datetime], float], now: datetime) -> list[tuple[float, str]]:
    ticks = []
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    step = max(1, months // 8)
    for n in range(0, months + 1, step):
        year, month = divmod(first.month - 1 + n, 12)
        day = date(first.year + year, month + 1, 1)
        if first <= day <= last:
            moment = datetime.combine(day, time(0), tzinfo=now.tzinfo)
            ticks.append((x_of(moment), f"{day:%b %y}"))
    return ticks
