"""The what-if preview of a parameter change at scale, beside a full recompute, same database.

    .venv/bin/python -m bench.preview [--database rememberly_scale] [--sample 10000] [--skip-recompute]

Reads a database seeded with `seed_scale` (bench/README.md: 100k customers, 5M
touchpoints). Adds churn outcomes on first use (45 days ago, one customer in ten), makes a draft with
a heavier loss aversion and a shorter half-life, and times `manage.py preview_version`:
every sampled customer scored under both versions as of now, the band shares with their
intervals, the top movers with why, then the memory score's backtest under both. Then
`recompute_scores --processes 2` for the reference.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from bench.backtest import _outcomes, migrated_size
from bench.common import SERVER, manage, print_table, production_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rememberly_scale")
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--skip-recompute", action="store_true")
    args = parser.parse_args()
    url = f"{SERVER}/{args.database}"
    env = production_env(url)
    customers, touches = migrated_size(url, args.database, env, "seed it first (bench/README.md).")
    # The preview backtests at the cut-off 90 days ago: churns 45 days ago fall in its window.
    churns = _outcomes(url, datetime.now(UTC) - timedelta(days=45), source="bench-preview", remainder=5)
    size = f"{customers // 1000}k customers / {touches / 1e6:.1f}M touchpoints, {churns:,} churns"
    print(f"{args.database}: {size}", flush=True)
    print("preview_version (loss aversion 3.0, half-life 60 days) ...", flush=True)
    started = time.perf_counter()
    output = manage(
        env, "preview_version", "--set", "loss_aversion=3.0", "--set", "half_life_days=60", "--sample", str(args.sample)
    )
    preview_s = time.perf_counter() - started
    print(output.strip(), flush=True)
    rows = [(f"preview of a parameter change, {size}, sample {args.sample:,}", "< 60 s", f"{preview_s:.0f} s", "-")]
    if not args.skip_recompute:
        print("recompute_scores --processes 2 ...", flush=True)
        started = time.perf_counter()
        manage(env, "recompute_scores", "--processes", "2", "--no-progress")
        recompute_s = time.perf_counter() - started
        rows[0] = (*rows[0][:3], f"full recompute of every score: {recompute_s:.0f} s ({preview_s / recompute_s:.2f}x)")
    print_table(rows)


if __name__ == "__main__":
    main()
