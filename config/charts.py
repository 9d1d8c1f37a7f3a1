"""What every chart shares: its line said in one sentence, for screen readers and for
anyone who reads rather than looks."""

from collections.abc import Sequence
from datetime import date


def series_in_words(points: Sequence[tuple[date, float]], what: str) -> str:
    """A line chart said in one sentence: where it starts and ends, its lowest and highest."""
    if not points:
        return f"No {what} recorded in this period."
    (first_day, first), (last_day, last) = points[0], points[-1]
    if len(points) == 1:
        return f"The {what} was {first:.0f} on {first_day:%-d %b %Y}."
    low_day, low = min(points, key=lambda p: (p[1], p[0]))
    high_day, high = max(points, key=lambda p: (p[1], p[0]))
    direction = "rose" if last > first + 0.5 else "fell" if last < first - 0.5 else "held"
    return (
        f"The {what} {direction} from {first:.0f} on {first_day:%-d %b %Y} to {last:.0f} on {last_day:%-d %b %Y}; "
        f"lowest {low:.0f} on {low_day:%-d %b}, highest {high:.0f} on {high_day:%-d %b}."
    )
