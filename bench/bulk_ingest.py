"""Bulk ingest through the API vs raw PostgreSQL COPY of the same rows, in one run.

    .venv/bin/python -m bench.bulk_ingest [--requests 100] [--items 1000] [--clients 2] [--no-worker]

Starts its own gunicorn (2 workers), Celery worker and Redis on 127.0.0.1 against a scratch
database (rememberly_bench, dropped and re-created), pushes the requests,
then COPYs the same rows into a table shaped like the interactions table (same indexes
and checks) and prints both rates. Needs the local PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg2

from bench.common import fresh_database, manage, print_table, production_env, running_stack

DB = "rememberly_bench"
CHANNELS = ["call", "email", "chat", "support_ticket", "meeting", "complaint", "newsletter"]


def payloads(requests: int, items: int, seed: int = 1) -> list[list[dict[str, object]]]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    batches = []
    for r in range(requests):
        batch = []
        for i in range(items):
            n = r * items + i
            customer = rng.randrange(5000)
            batch.append(
                {
                    "customer_ref": f"B-{customer:05d}",
                    "customer_name": f"Bench customer {customer}",
                    "channel": rng.choice(CHANNELS),
                    "valence": rng.randint(-2, 2),
                    "occurred_at": (start + timedelta(minutes=n * 3)).isoformat(),
                    "summary": "Benchmark touchpoint",
                    "source": "bench",
                    "external_id": f"b-{n}",
                }
            )
        batches.append(batch)
    return batches


def push_all(batches: list[list[dict[str, object]]], port: int, key: str, clients: int) -> tuple[float, int]:
    bodies = [json.dumps({"items": b}).encode() for b in batches]
    created = [0]
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(range(len(bodies)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                index = queue.pop(0)
            conn.request(
                "POST",
                "/api/v1/interactions/bulk/",
                body=bodies[index],
                headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            raw = response.read()
            if response.status != 200:
                failures.append(f"request {index} answered {response.status}: {raw[:300]!r}")
                continue
            body = json.loads(raw)
            with lock:
                created[0] += body["created"]
                if body["created"] != len(batches[index]):
                    odd = [r for r in body["results"] if r["status"] != "created"][:2]
                    print(
                        f"\n  request {index}: {body['created']} created, {body['duplicates']} duplicates, "
                        f"{body['errors']} errors; e.g. {odd}"
                    )
                done = len(bodies) - len(queue)
            print(f"\r  pushed {done}/{len(bodies)} requests", end="", flush=True)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print()
    if failures:
        raise SystemExit("\n".join(failures))
    return time.perf_counter() - started, created[0]


def copy_reference(batches: list[list[dict[str, object]]], url: str) -> float:
    """COPY the same rows into a table with the interactions table's indexes and checks."""
    rows = [item for batch in batches for item in batch]
    buffer = io.StringIO()
    for n, item in enumerate(rows):
        customer = int(str(item["customer_ref"])[2:]) + 1
        buffer.write(
            f"{n + 1}\t{customer}\t{customer}\t{item['channel']}\tinbound\t{item['occurred_at']}\t\\N\t1\t"
            f"{item['valence']}\t3\t{item['summary']}\t\\N\t\t\\N\tf\t{item['source']}\t{item['external_id']}\t"
            "2026-01-01T00:00:00+00\t2026-01-01T00:00:00+00\n"
        )
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy")
        cur.execute("CREATE TABLE bench_copy (LIKE interactions_interaction INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        buffer.seek(0)
        cur.copy_expert(
            "COPY bench_copy (id, customer_id, journey_id, channel, direction, occurred_at, staff_id, stage_id, "
            "valence, intensity, summary, rating, rating_scale, resolves_id, resolved_on_first_contact, source, "
            "external_id, created_at, updated_at) FROM STDIN",
            buffer,
        )
        conn.commit()
        elapsed = time.perf_counter() - started
        cur.execute("SELECT count(*) FROM bench_copy")
        assert cur.fetchone()[0] == len(rows)
        cur.execute("DROP TABLE bench_copy")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument(
        "--no-worker", action="store_true", help="Run no Celery worker (score refreshes wait in Redis)."
    )
    args = parser.parse_args()

    print(f"setting up {DB} ...")
    url = fresh_database(DB)
    key = manage(production_env(url), "issue_api_key", "bench", "--scope", "push").strip()
    batches = payloads(args.requests, args.items)
    total = args.requests * args.items
    with running_stack(url, web_workers=2, worker_processes=0 if args.no_worker else 1) as stack:
        print(f"API: {args.requests} x {args.items}-item bulk requests, {args.clients} clients")
        api_seconds, created = push_all(batches, stack.port, key, args.clients)
        assert created == total, f"created {created} of {total}"
    print("reference: COPY of the same rows")
    copy_seconds = copy_reference(batches, url)

    api_rate, copy_rate = total / api_seconds, total / copy_seconds
    label = "bulk API, no Celery worker" if args.no_worker else "bulk API + Celery worker"
    print_table(
        [
            (f"1. {label} (items/s)", ">= 0.5x reference", f"{api_rate:,.0f} ({api_rate / copy_rate:.3f}x)",
             f"PostgreSQL COPY of the same {total:,} rows: {copy_rate:,.0f} rows/s"),
        ]
    )  # fmt: skip


if __name__ == "__main__":
    main()
