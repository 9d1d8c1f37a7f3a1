"""The memory model before and after v2, on the same inputs (docs/memory-score.md section 11).

    .venv/bin/python -m bench.memory_v1_v2 [--histories 10000] [--v1 fe08e44]

v1 is read from git history (`git show REV:memory/engine.py`), not kept in the tree. Prints
the hand-built cases of the v2 review, then how often each behaviour is broken over the
same random histories (journeys of at most 90 days, interleaved, with recoveries).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from memory import engine as v2

DAY = 86_400.0
ROOT = Path(__file__).resolve().parent.parent


def load_v1(revision: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:memory/engine.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType("memory_engine_v1")
    sys.modules[module.__name__] = module  # dataclasses look their module up by name
    exec(compile(source, f"{revision}:memory/engine.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def score(model: Any, touches: list[Any], as_of: float) -> float:
    params = model.MemoryParameters()
    return float(model.recompute(touches, params).state.read(as_of, params).score)


Spec = tuple[int, float, int, int, int, str, int | None]


def _touches(model: Any, specs: list[Spec]) -> list[Any]:
    return [model.Touch(i, d * DAY, j, "fulfilment", ch, v, n, res) for (i, d, v, n, j, ch, res) in specs]


def t(
    i: int, day: float, valence: int, intensity: int, journey: int = 1, channel: str = "call", res: int | None = None
) -> Spec:
    return (i, day, valence, intensity, journey, channel, res)


SEVERE = t(1, 0, -2, 5, channel="complaint")
CASES: list[tuple[str, list[Spec], float | None]] = [
    ("severe complaint, read 180 days later", [SEVERE], 180),
    ("... then a neutral newsletter (new journey) that day", [SEVERE, t(2, 180, 0, 1, 2, "newsletter")], None),
    ("one severe complaint", [SEVERE], None),
    ("two severe complaints, a week apart (two journeys)", [SEVERE, t(2, 7, -2, 5, 2, "complaint")], None),
    ("ten severe complaints, weekly (ten journeys)", [t(i, 7 * i, -2, 5, i, "complaint") for i in range(1, 11)], None),
    ("one complaint (v-1, I4) in a journey", [t(1, 0, -1, 4, channel="complaint")], None),
    ("three such complaints in one journey", [t(i, 0.1 * i, -1, 4, channel="complaint") for i in range(1, 4)], None),
    ("severe complaint + excellent recovery (v+2, I5) next day", [SEVERE, t(2, 1, 2, 5, res=1)], None),
    ("never failed: that excellent call alone", [t(2, 1, 2, 5)], None),
    (
        "moderate complaint (v-1, I4) + excellent recovery next day",
        [t(1, 0, -1, 4, channel="complaint"), t(2, 1, 2, 3, res=1)],
        None,
    ),
    ("... the same recovery 10 days later", [t(1, 0, -1, 4, channel="complaint"), t(2, 10, 2, 3, res=1)], None),
    ("one very good, vivid call (v+2, I5)", [t(1, 0, 2, 5)], None),
    ("one faint good newsletter (v+1, I1)", [t(1, 0, 1, 1, channel="newsletter")], None),
]


def history(rng: random.Random, model: Any) -> list[Any]:
    touches: list[Any] = []
    day, journey, started = 0.0, 1, {1: 0.0}
    for i in range(1, rng.randint(1, 25) + 1):
        day += rng.uniform(0, 60)
        step = rng.choice(["same", "same", "next", "revisit"])
        open_journeys = [j for j, start in started.items() if day - start <= 90]
        if step == "next" or not open_journeys:
            journey += 1
            started[journey] = day
            open_journeys.append(journey)
        journey_id = rng.choice(open_journeys) if step == "revisit" else open_journeys[-1]
        valence = rng.randint(-2, 2)
        negatives = [x.id for x in touches if x.valence < 0]
        resolves = rng.choice(negatives) if negatives and valence > 0 and rng.random() < 0.5 else None
        channel = rng.choice(["call", "complaint", "email"])
        touches.append(
            model.Touch(
                i, day * DAY, journey_id, "f", channel, valence, rng.randint(1, 5), resolves, rng.random() < 0.5
            )
        )
    return touches


Check = Callable[[Any, list[Any], float, random.Random], float | None]


def positive_new_journey_lowers(model: Any, touches: list[Any], as_of: float, rng: random.Random) -> float | None:
    extra = model.Touch(
        max(x.id for x in touches) + 1, rng.uniform(0, as_of), max(x.journey_id for x in touches) + 1,
        "f", "call", rng.randint(1, 2), rng.randint(1, 5),
    )  # fmt: skip
    return score(model, touches, as_of) - score(model, [*touches, extra], as_of)


def neutral_new_journey_moves_away(model: Any, touches: list[Any], as_of: float, rng: random.Random) -> float | None:
    extra = model.Touch(
        max(x.id for x in touches) + 1, as_of, max(x.journey_id for x in touches) + 1, "f", "newsletter", 0, 1
    )
    return abs(score(model, [*touches, extra], as_of) - 50) - abs(score(model, touches, as_of) - 50)


def mild_positive_now_lowers(model: Any, touches: list[Any], as_of: float, rng: random.Random) -> float | None:
    extra = model.Touch(max(x.id for x in touches) + 1, as_of, touches[-1].journey_id, "f", "call", 1, 2)
    return score(model, touches, as_of) - score(model, [*touches, extra], as_of)


def linking_lowers(model: Any, touches: list[Any], as_of: float, rng: random.Random) -> float | None:
    pairs = [
        (c, k)
        for c in touches
        if c.valence < 0
        for k, r in enumerate(touches)
        if r.valence > 0 and r.resolves_id is None and (r.at, r.id) > (c.at, c.id)
    ]
    if not pairs:
        return None
    complaint, index = rng.choice(pairs)
    linked = [replace(x, resolves_id=complaint.id) if k == index else x for k, x in enumerate(touches)]
    return score(model, touches, as_of) - score(model, linked, as_of)


def severe_recovered_beats_never(model: Any, touches: list[Any], as_of: float, rng: random.Random) -> float | None:
    positives = [k for k, x in enumerate(touches) if x.valence > 0 and x.resolves_id is None]
    if not positives:
        return None
    index = rng.choice(positives)
    recovery = touches[index]
    complaint = model.Touch(
        max(x.id for x in touches) + 1, recovery.at - rng.uniform(0, 14) * DAY - 1, recovery.journey_id,
        "f", "complaint", -2, rng.randint(3, 5),
    )  # fmt: skip
    failed = [*[replace(x, resolves_id=complaint.id) if k == index else x for k, x in enumerate(touches)], complaint]
    return score(model, failed, as_of) - score(model, touches, as_of)


CHECKS: list[tuple[str, Check, float]] = [
    ("a positive touch in a new journey lowers the score", positive_new_journey_lowers, 1e-9),
    ("a neutral touch in a new journey moves the score away from 50 by > 0.5", neutral_new_journey_moves_away, 0.5),
    ("a mild positive touch now, in the latest journey, lowers the score by > 1", mild_positive_now_lowers, 1.0),
    ("linking a recovery lowers the score", linking_lowers, 1e-9),
    ("a severe failure + its recovery beats never failing", severe_recovered_beats_never, 1e-9),
]


def _cases_table(v1: Any) -> None:
    print("| case | v1 | v2 |\n|---|---|---|")
    for name, specs, as_of in CASES:
        when = (as_of if as_of is not None else max(s[1] for s in specs)) * DAY
        print(f"| {name} | {score(v1, _touches(v1, specs), when):.1f} | {score(v2, _touches(v2, specs), when):.1f} |")


def _property_counts(label: str, model: Any, histories: int) -> dict[str, tuple[int, int, float]]:
    """Per check: (histories that broke it, histories it applied to, worst break in points)."""
    rng = random.Random(11)
    counts = {name: [0, 0, 0.0] for name, _, _ in CHECKS}
    for n in range(histories):
        touches = history(rng, model)
        as_of = max(x.at for x in touches) + rng.uniform(0, 200) * DAY
        for name, check, threshold in CHECKS:
            amount = check(model, touches, as_of, rng)
            if amount is None:
                continue
            counts[name][1] += 1
            if amount > threshold:
                counts[name][0] += 1
                counts[name][2] = max(counts[name][2], amount)
        if (n + 1) % 2000 == 0:
            print(f"  {label}: {n + 1:,} histories", file=sys.stderr)
    return {name: (int(c[0]), int(c[1]), c[2]) for name, c in counts.items()}


def _properties_table(v1: Any, histories: int) -> None:
    print(f"\n| over {histories:,} random histories | v1 | v2 |\n|---|---|---|")
    rows = {label: _property_counts(label, model, histories) for label, model in (("v1", v1), ("v2", v2))}
    for name, _, _ in CHECKS:
        cells = []
        for label in ("v1", "v2"):
            broken, tried, worst = rows[label][name]
            cells.append(f"{broken:,} of {tried:,} ({broken / tried:.1%}; worst {worst:.1f} points)")
        print(f"| {name} | {cells[0]} | {cells[1]} |")


def _speed_table(v1: Any) -> None:
    # The engine alone, same histories, one process: full recomputes per second.
    print("\n| engine alone, full recompute of 2,000 histories | v1 | v2 |\n|---|---|---|")
    timings = []
    for model in (v1, v2):
        rng = random.Random(5)
        histories = [history(rng, model) for _ in range(2000)]
        params = model.MemoryParameters()
        started = time.perf_counter()
        for touches in histories:
            model.recompute(touches, params).state.read(touches[-1].at, params)
        elapsed = time.perf_counter() - started
        timings.append((sum(len(h) for h in histories) / elapsed, elapsed))
    ratio = timings[1][0] / timings[0][0]
    print(f"| touches per second | {timings[0][0]:,.0f} | {timings[1][0]:,.0f} (v2/v1 = {ratio:.2f}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--histories", type=int, default=10_000)
    parser.add_argument("--v1", default="fe08e44", help="git revision holding the v1 engine")
    args = parser.parse_args()
    v1 = load_v1(args.v1)
    _cases_table(v1)
    _properties_table(v1, args.histories)
    _speed_table(v1)


if __name__ == "__main__":
    main()
