"""Throughput against the number of Celery worker processes (the curve in docs/scaling.md).

    .venv/bin/python -m bench.workers --database rememberly_small [--processes 1 2 3 4]

On a database seeded by seed_scale (bench/README.md), for each worker count: queue the
nightly re-read (a task per 200 customers) through a Redis of its own, start a worker with that
many processes, and time until every memory has been rewritten. Each run changes one
model parameter a little, so every refresh is a full recompute (the heaviest task).
"""

from __future__ import annotations

import argparse
import time

import psycopg2

from bench.common import SERVER, manage, print_table, production_env
from harness.stack import RedisServer, Stack

ENQUEUE = """
from memory.tasks import refresh_all_memories
refresh_all_memories()
"""


def run(url: str, processes: int, customers: int) -> float:
    redis = RedisServer()
    redis.start()
    # A new loss-aversion value per run: a new parameter fingerprint, so full recomputes.
    env = {**production_env(url), "REDIS_URL": redis.url(), "MEMORY_LOSS_AVERSION": f"{2.25 + processes / 1000}"}
    try:
        manage(env, "shell", "-c", ENQUEUE)
        conn = psycopg2.connect(url)
        conn.autocommit = True  # each poll sees what the worker committed since
        cur = conn.cursor()
        cur.execute("SELECT now()")
        since = cur.fetchone()[0]
        stack = Stack(redis, env.pop("DATABASE_URL"), **env)
        started = time.monotonic()
        stack.start_worker(pool="prefork", concurrency=processes)
        try:
            while True:
                cur.execute("SELECT count(*) FROM memory_customermemory WHERE updated_at >= %s", [since])
                if cur.fetchone()[0] >= customers:
                    return customers / (time.monotonic() - started)
                time.sleep(0.2)
        finally:
            stack.stop()
            conn.close()
    finally:
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rememberly_small")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 3, 4])
    args = parser.parse_args()
    url = f"{SERVER}/{args.database}"
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customer")
        customers = cur.fetchone()[0]
    rows = []
    base = None
    for n in args.processes:
        rate = run(url, n, customers)
        base = base or rate
        print(f"  {n} worker process(es): {rate:,.0f} full refreshes/s")
        relative = f"{rate / base:.2f}x of {args.processes[0]} process(es)"
        rows.append((f"{n} Celery worker process(es)", "-", f"{rate:,.0f} refreshes/s", relative))
    print_table(rows)


if __name__ == "__main__":
    main()
