"""Did acting help? Plain statistics for the playbooks page, no Django: the mean change of the
memory score with a 95% interval (normal approximation; none below two tasks)."""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None
    low: float | None
    high: float | None


def summarise(values: list[float]) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(0, None, None, None)
    mean = sum(values) / n
    if n < 2:
        return Summary(n, mean, None, None)
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = 1.96 * math.sqrt(variance / n)
    return Summary(n, mean, mean - half, mean + half)


def rate(hits: int, n: int) -> float | None:
    return hits / n if n else None
