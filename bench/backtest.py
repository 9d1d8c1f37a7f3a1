"""A full backtest at one cut-off, beside a full recompute of every score, same database.

    .venv/bin/python -m bench.backtest [--database rememberly_pages]

Reads a database seeded by `bench.pages` (or `seed_scale`). Outcomes are added on first
use: a churn 30 days after the cut-off for one customer in ten (chosen by id), so the
report has events to score. Prints the wall time of `manage.py backtest` (one cut-off,
90-day window, the memory score and six baselines, 300 bootstrap resamples) and of
`manage.py recompute_scores --processes 2`.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import psycopg2

from bench.common import SERVER, manage, print_table, production_env

CUTOFF_DAYS_AGO = 120


def _outcomes(url: str, churn_at: datetime, source: str = "bench-backtest", remainder: int = 0) -> int:
    """A churn at `churn_at` for every customer whose id ends in `remainder` (one in ten)."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM outcomes_outcome WHERE source = %s", [source])
        if cur.fetchone()[0] == 0:
            cur.execute(
                "INSERT INTO outcomes_outcome (customer_id, kind, occurred_at, note, source, external_id, created_at) "
                "SELECT id, 'churned', %s, '', %s, 'churn-' || id, now() FROM customers_customer "
                "WHERE id %% 10 = %s",
                [churn_at, source, remainder],
            )
        cur.execute("SELECT count(*) FROM outcomes_outcome WHERE source = %s", [source])
        return int(cur.fetchone()[0])


def migrated_size(url: str, name: str, env: dict[str, str], seed_hint: str) -> tuple[int, int]:
    """Migrate the bench database; its customers and (estimated) touchpoints."""
    manage(env, "migrate", "--noinput")
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customer")
        customers = cur.fetchone()[0]
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'interactions_interaction'")
        touches = cur.fetchone()[0]
    if customers < 1000:
        raise SystemExit(f"{name} has {customers} customers: {seed_hint}")
    return customers, touches


def _timed(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    output = manage(env, *args)
    return time.perf_counter() - started, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rememberly_pages")
    args = parser.parse_args()
    url = f"{SERVER}/{args.database}"
    env = production_env(url)
    customers, touches = migrated_size(url, args.database, env, "run `python -m bench.pages` first to seed it.")
    cutoff = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=CUTOFF_DAYS_AGO)
    churns = _outcomes(url, cutoff + timedelta(days=30))
    size = f"{customers // 1000}k customers / {touches / 1e6:.1f}M touchpoints, {churns:,} churns"
    print(f"{args.database}: {size}", flush=True)
    print("backtest at one cut-off ...", flush=True)
    backtest_s, report = _timed(env, "backtest", "--cutoff", cutoff.date().isoformat(), "--no-progress")
    print(report.strip().splitlines()[0] if report.strip() else "", flush=True)
    print("recompute_scores --processes 2 ...", flush=True)
    recompute_s, _ = _timed(env, "recompute_scores", "--processes", "2", "--no-progress")
    print_table(
        [
            (
                f"backtest, one cut-off, {size}",
                "-",
                f"{backtest_s:.0f} s",
                f"full recompute of every score: {recompute_s:.0f} s ({backtest_s / recompute_s:.2f}x)",
            ),
        ]
    )


if __name__ == "__main__":
    main()
