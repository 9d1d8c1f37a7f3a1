"""Single-touchpoint API: throughput against a bare JSON view, and freshness.

    .venv/bin/python -m bench.api [--seconds 20] [--clients 8] [--rate 200] [--web-workers 2] [--worker-processes 2]

Against a scratch database (rememberly_bench_api, re-created), gunicorn, a Celery worker
and a Redis of their own, all on this machine:

2. POST /api/v1/interactions/ requests/s with `--clients` keep-alive clients, against
   GET /bench/json/ (a Django view returning JSON, no database) on the same server, and
   POST /bench/insert/ (a view storing the body as one row in one committed transaction:
   the cheapest durable write). First with the stages paused (no worker yet: the request
   path alone), then, once the worker has caught up, sustained with the worker running;
   how many memories were behind when the load stopped, and how long until none was.
3. Freshness: touchpoints sent at `--rate` per second (open loop) for `--seconds`; for
   each, the time from sending it to the moment its customer's stored score includes it
   (polled in PostgreSQL every 20 ms). p50 and p95.
6. Peak RSS of the web and worker processes after these loads.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg2

from bench.common import (
    Client,
    closed_loop,
    fresh_database,
    manage,
    median,
    percentile,
    print_table,
    production_env,
    running_stack,
)

CHANNELS = ["call", "email", "chat", "support_ticket", "meeting", "complaint"]


def touchpoint(n: int, customers: int, rng: random.Random) -> dict[str, object]:
    customer = rng.randrange(customers)
    return {
        "customer_ref": f"A-{customer:05d}",
        "customer_name": f"API bench customer {customer}",
        "channel": rng.choice(CHANNELS),
        "valence": rng.randint(-2, 2),
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "bench-api",
        "external_id": f"a-{n}",
    }


def requester(
    port: int,
    method: str,
    path: str,
    expected: int,
    headers: dict[str, str] | None = None,
    with_touchpoint: bool = False,
    first: int = 0,
) -> Callable[[], Callable[[int], None]]:
    """For closed_loop: each client thread gets its own connection and sends request n
    (touchpoint `first` + n: runs with different `first` send different keys)."""

    def make() -> Callable[[int], None]:
        client, rng = Client(port, headers), random.Random()

        def call(n: int) -> None:
            status, body = client.request(method, path, touchpoint(first + n, 2000, rng) if with_touchpoint else None)
            if status != expected:
                raise RuntimeError(f"{method} {path} answered {status}: {body[:200]!r}")

        return call

    return make


def throughput(port: int, key: str, clients: int, seconds: float) -> tuple[float, float, float]:
    """API single POSTs/s, beside a bare JSON view and a view doing one committed INSERT."""
    bare_rate = closed_loop(clients, seconds, requester(port, "GET", "/bench/json/", 200))
    insert_rate = closed_loop(clients, seconds, requester(port, "POST", "/bench/insert/", 201, with_touchpoint=True))
    return api_rate(port, key, clients, seconds), bare_rate, insert_rate


def api_rate(port: int, key: str, clients: int, seconds: float, first: int = 0) -> float:
    auth = {"Authorization": f"Api-Key {key}"}
    post = requester(port, "POST", "/api/v1/interactions/", 201, auth, with_touchpoint=True, first=first)
    return closed_loop(clients, seconds, post)


BEHIND = (
    "SELECT count(*) FROM customers_customer c LEFT JOIN memory_customermemory m ON m.customer_id = c.id "
    "WHERE c.history_version > coalesce(m.history_version, 0)"
)


def memories_behind(database_url: str) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(BEHIND)
        return int(cur.fetchone()[0])


def seconds_to_catch_up(database_url: str, timeout: float = 600) -> float:
    """How long until no memory is behind its history (the stages have caught up)."""
    started = time.monotonic()
    while memories_behind(database_url) and time.monotonic() - started < timeout:
        time.sleep(0.1)
    return time.monotonic() - started


class _FreshnessProbe:
    """What the freshness run's sending threads and its watcher share: the touchpoints
    sent and not yet seen in a stored score, and the two timings per touchpoint."""

    def __init__(self, port: int, key: str, batch: int) -> None:
        self.port, self.auth, self.batch = port, {"Authorization": f"Api-Key {key}"}, batch
        self.local = threading.local()
        self.pending: dict[int, list[tuple[int, float]]] = {}  # customer id -> [(interaction id, sent at)]
        self.lock = threading.Lock()
        self.fresh: list[float] = []
        self.answered: list[float] = []
        self.sending = threading.Event()
        self.sending.set()

    def send(self, n: int) -> None:
        local, batch = self.local, self.batch
        if not hasattr(local, "client"):
            local.client, local.rng = Client(self.port, self.auth), random.Random(n)
        sent = time.monotonic()
        items = [touchpoint(10**8 + n * batch + i, 5000, local.rng) for i in range(batch)]
        if batch == 1:
            status, body = local.client.request("POST", "/api/v1/interactions/", items[0])
            stored = [json.loads(body)] if status == 201 else []
        else:
            status, body = local.client.request("POST", "/api/v1/interactions/bulk/", {"items": items})
            stored = json.loads(body)["results"] if status == 200 else []
        if len(stored) != batch or any(r.get("status", "created") != "created" for r in stored):
            raise RuntimeError(f"POST answered {status}: {body[:200]!r}")
        with self.lock:
            for item in stored:
                self.answered.append(time.monotonic() - sent)
                self.pending.setdefault(item["customer"], []).append((item["id"], sent))

    def _seen(self, scored: list[tuple[int, int]], now: float) -> None:
        """Touchpoints at or below a customer's scored interaction id are fresh."""
        with self.lock:
            for customer_id, max_id in scored:
                waiting = self.pending.get(customer_id, [])
                self.fresh.extend(now - t for i, t in waiting if i <= max_id)
                left = [(i, t) for i, t in waiting if i > max_id]
                if left:
                    self.pending[customer_id] = left
                else:
                    self.pending.pop(customer_id, None)

    def watch(self, database_url: str) -> None:
        conn = psycopg2.connect(database_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            while self.sending.is_set() or self.pending:
                with self.lock:
                    customers = list(self.pending)
                if customers:
                    cur.execute(
                        "SELECT customer_id, max_interaction_id FROM memory_customermemory WHERE customer_id = ANY(%s)",
                        [customers],
                    )
                    self._seen(cur.fetchall(), time.monotonic())
                time.sleep(0.02)
        conn.close()


def _send_at_rate(send: Callable[[int], None], requests: int, request_rate: float) -> float:
    """Call send(0), send(1) ... on a schedule of `request_rate` per second; the rate achieved."""
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=48) as pool:
        futures = []
        for n in range(requests):
            delay = start + n / request_rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(send, n))
        for f in futures:
            f.result()
    return requests / (time.monotonic() - start)


def freshness(
    port: int, key: str, database_url: str, rate: int, seconds: float, batch: int = 1
) -> tuple[list[float], list[float]]:
    """(seconds to a fresh score, seconds to answer) per touchpoint sent at `rate`/s, as
    single POSTs (batch 1) or as bulk requests of `batch` touchpoints each."""
    probe = _FreshnessProbe(port, key, batch)
    watcher = threading.Thread(target=probe.watch, args=(database_url,))
    watcher.start()
    requests = int(rate * seconds / batch)
    achieved = _send_at_rate(probe.send, requests, rate / batch) * batch
    probe.sending.clear()
    watcher.join(timeout=120)
    print(f"  sent {requests * batch} touchpoints at {achieved:.0f}/s (asked {rate}/s); {len(probe.fresh)} seen fresh")
    return probe.fresh, probe.answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=int, default=200, help="Touchpoints per second for the freshness test.")
    parser.add_argument("--batch", type=int, default=1, help="Touchpoints per request in the freshness test (1).")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-processes", type=int, default=2)
    args = parser.parse_args()

    print("setting up rememberly_bench_api ...")
    url = fresh_database("rememberly_bench_api")
    key = manage(production_env(url), "issue_api_key", "bench", "--scope", "push").strip()
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE bench_write (id bigserial PRIMARY KEY, body text NOT NULL)")
    with running_stack(url, web_workers=args.web_workers, worker_processes=0) as stack:
        print(f"2. throughput, {args.clients} clients, {args.seconds:.0f} s each, stages paused (no worker) ...")
        paused_rate, bare_rate, insert_rate = throughput(stack.port, key, args.clients, args.seconds)
        backlog = memories_behind(url)
        stack.start_worker(pool="prefork", concurrency=args.worker_processes)
        caught_up = seconds_to_catch_up(url)
        print(f"   the worker caught up with {backlog} customers' memories in {caught_up:.1f} s")
        print(f"2b. throughput with the worker running, {args.seconds:.0f} s ...")
        sustained_rate = api_rate(stack.port, key, args.clients, args.seconds, first=10**9)
        left_behind = memories_behind(url)
        drained = seconds_to_catch_up(url)
        print(f"   {left_behind} memories behind when the load stopped, caught up {drained:.1f} s later")
        print(f"3. freshness at {args.rate}/s for {args.seconds:.0f} s ...")
        fresh, answered = freshness(stack.port, key, url, args.rate, args.seconds, args.batch)
        web_rss = stack.services[0].peak_rss_mib()
        worker_rss = stack.services[1].peak_rss_mib() if len(stack.services) > 1 else 0.0
    how = "single POSTs" if args.batch == 1 else f"bulk requests of {args.batch}"
    print_table(
        [
            ("2. single POST /api/v1/interactions/, request path, stages paused (req/s)",
             ">= 0.5x the INSERT view", f"{paused_rate:.0f} ({paused_rate / insert_rate:.2f}x)",
             f"view doing one committed INSERT {insert_rate:.0f} req/s; bare Django JSON view {bare_rate:.0f}"),
            ("2b. the same, sustained with the worker running (req/s)", ">= 0.3x the INSERT view, no backlog",
             f"{sustained_rate:.0f} ({sustained_rate / insert_rate:.2f}x)",
             f"{left_behind} memories behind at the end, caught up {drained:.1f} s later"),
            (f"3. freshness at {args.rate} touchpoints/s ({how}), POST to stored score", "p95 < 1 s",
             f"p50 {median(fresh) * 1000:.0f} ms, p95 {percentile(fresh, 95) * 1000:.0f} ms",
             f"POST answered: p50 {median(answered) * 1000:.0f} ms, p95 {percentile(answered, 95) * 1000:.0f} ms"),
            ("6. peak RSS under these loads", "-", f"web process {web_rss:.0f} MiB, worker process "
             f"{worker_rss:.0f} MiB", f"{args.web_workers} gunicorn, {args.worker_processes} Celery processes"),
        ]
    )  # fmt: skip


if __name__ == "__main__":
    main()
